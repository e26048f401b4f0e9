// Argument patterns the tool contracts share (days and times as callers say them), so a bad one is refused before any lookup.

/** A pattern the zod schemas share, so a bad day is refused as 400 naming the field before any lookup. */
export const DAY_PATTERN = /^(today|tomorrow|\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?)$/i;

export const TIME_PATTERN = /^\s*([01]?\d|2[0-3])(?::([0-5]\d))?\s*([ap])?\.?\s*(m\.?)?\s*$/i;
