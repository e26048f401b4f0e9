// Business-time arithmetic: calendar dates and wall-clock times in the business's timezone, and how to say them.
import { DAY_PATTERN, TIME_PATTERN } from '../../contracts/patterns';

/** A calendar date `YYYY-MM-DD` in the business timezone. */
export type LocalDate = string;
/** A wall-clock time `HH:MM` (24 h) in the business timezone. */
export type LocalTime = string;

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d$/;

// Building an Intl.DateTimeFormat costs milliseconds (it loads ICU timezone data); formatting with one is
// microseconds. Tools format several dates per call, so formatters are built once per timezone and kept.
const partsFormatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    partsFormatters.set(timeZone, f);
  }
  return f;
}

function parts(now: Date, timeZone: string): Record<string, string> {
  return Object.fromEntries(partsFormatter(timeZone).formatToParts(now).map((p) => [p.type, p.value]));
}

/** The calendar date at `now` in `timeZone`. */
export function localDate(now: Date, timeZone: string): LocalDate {
  const p = parts(now, timeZone);
  return `${p.year}-${p.month}-${p.day}`;
}

/** The wall-clock time at `now` in `timeZone`. */
export function localTime(now: Date, timeZone: string): LocalTime {
  const p = parts(now, timeZone);
  return `${p.hour}:${p.minute}`;
}

/** True for a real calendar date written `YYYY-MM-DD` (rejects 2026-02-30). */
export function isLocalDate(s: string): boolean {
  if (!DATE_RE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** True for `HH:MM` 24-hour time. */
export function isLocalTime(s: string): boolean {
  return TIME_RE.test(s);
}

/** `date` plus `days` calendar days (calendar arithmetic, so DST changes do not matter). */
export function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Whole days from `a` to `b` (negative when b is before a). */
export function daysBetween(a: LocalDate, b: LocalDate): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

/**
 * Resolves what the LLM passes as a day: "today", "tomorrow", an ISO date, or an ISO date-time (converted to
 * the business's calendar date). Returns undefined when it is none of those.
 */
export function resolveDay(input: string, now: Date, timeZone: string): LocalDate | undefined {
  const s = input.trim().toLowerCase();
  if (s === 'today') return localDate(now, timeZone);
  if (s === 'tomorrow') return addDays(localDate(now, timeZone), 1);
  if (isLocalDate(s)) return s;
  if (/^\d{4}-\d{2}-\d{2}t/.test(s)) {
    const t = new Date(input.trim());
    if (!Number.isNaN(t.getTime())) return localDate(t, timeZone);
  }
  return undefined;
}


const spokenDateFormat = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', weekday: 'long', month: 'long', day: 'numeric' });

/** "today", "tomorrow", or "Wednesday, November 25" — how the agent says a date. */
export function speakDate(date: LocalDate, today: LocalDate): string {
  const diff = daysBetween(today, date);
  if (diff === 0) return 'today';
  if (diff === 1) return 'tomorrow';
  return spokenDateFormat.format(new Date(`${date}T12:00:00Z`));
}

/** "9 AM", "1:30 PM" — how the agent says a time. */
export function speakTime(time: LocalTime): string {
  const [h, m] = time.split(':').map(Number) as [number, number];
  const suffix = h < 12 ? 'AM' : 'PM';
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return m === 0 ? `${h12} ${suffix}` : `${h12}:${String(m).padStart(2, '0')} ${suffix}`;
}

/** "a, b and c" for speech. */
export function speakList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** What the zod schemas accept as a time: "14:00", "9:30", "9", "9am", "2:30 PM". */

/** Normalizes a time matching {@link TIME_PATTERN} to `HH:MM` 24 h; undefined for "13 pm" and the like. */
export function parseTime(input: string): LocalTime | undefined {
  const m = TIME_PATTERN.exec(input);
  if (!m) return undefined;
  let h = Number(m[1]);
  const min = m[2] ?? '00';
  const ampm = m[3]?.toLowerCase();
  if (ampm) {
    if (h < 1 || h > 12) return undefined;
    if (ampm === 'p' && h !== 12) h += 12;
    if (ampm === 'a' && h === 12) h = 0;
  }
  return `${String(h).padStart(2, '0')}:${min}`;
}

/** "today", "tomorrow", or "on Wednesday, November 25": a date as it follows a verb. */
export function speakOn(date: LocalDate, today: LocalDate): string {
  const d = speakDate(date, today);
  return d === 'today' || d === 'tomorrow' ? d : `on ${d}`;
}
