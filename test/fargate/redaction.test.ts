// Pins PII redaction: card numbers in written and spoken forms (property-based), SSNs, e-mail, phones, config, Deepgram mapping.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  containsCardNumber, deepgramRedactParams, luhnValid, redact, redactJson, redactJsonText,
} from '../../fargate/src/privacy/redaction';

/** Independent Luhn (ISO/IEC 7812-1) so the generators do not trust the code under test. */
function luhn(digits: string): boolean {
  const doubled = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
  const sum = [...digits].reverse().reduce((acc, ch, i) => acc + (i % 2 ? doubled[Number(ch)] : Number(ch)), 0);
  return sum % 10 === 0;
}

const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** Appends the Luhn check digit to `body`. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhn(body + d)) return body + d;
  throw new Error('unreachable');
}

const digitString = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((a) => a.join(''));
const validCard = fc.integer({ min: 13, max: 19 }).chain((n) => digitString(n - 1, n - 1)).map(withCheckDigit);
const invalidRun = digitString(13, 16).map((s) => (luhn(s) ? s.slice(0, -1) + ((Number(s.at(-1)) + 1) % 10) : s));

type Style = 'plain' | 'groups4' | 'randomGroups' | 'spoken' | 'spokenDouble' | 'mixed';
const style = fc.constantFrom<Style>('plain', 'groups4', 'randomGroups', 'spoken', 'spokenDouble', 'mixed');
const sep = fc.constantFrom(' ', '-', ', ', ' - ', '.');

/** Renders digits the way people write them or STT emits them. Zero is "oh" only inside a number, as people say it. */
function render(digits: string, s: Style, seps: string[], cuts: number[]): string {
  const pick = (i: number) => seps[i % seps.length];
  const spoken = (d: string, i: number) => (d === '0' && i > 0 && i % 3 === 1 ? 'oh' : WORDS[Number(d)]);
  switch (s) {
    case 'plain':
      return digits;
    case 'groups4':
      return digits.match(/.{1,4}/g)!.join(pick(0));
    case 'randomGroups': {
      const out: string[] = [];
      let i = 0;
      for (let k = 0; i < digits.length; k++) {
        const n = 1 + (cuts[k % cuts.length] % 5);
        out.push(digits.slice(i, i + n));
        i += n;
      }
      return out.reduce((acc, g, k) => (k ? acc + pick(k) + g : g), '');
    }
    case 'spoken':
      return [...digits].map(spoken).join(' ');
    case 'spokenDouble': {
      const out: string[] = [];
      for (let i = 0; i < digits.length; i++) {
        if (i > 0 && digits[i + 1] === digits[i]) {
          out.push(`double ${WORDS[Number(digits[i])]}`);
          i++;
        } else out.push(spoken(digits[i], i));
      }
      return out.join(' ');
    }
    case 'mixed':
      // e.g. "4111 one one one 1111 …": groups of four alternate between numerals and words
      return digits.match(/.{1,4}/g)!.map((g, k) => (k % 2 ? [...g].map((d) => WORDS[Number(d)]).join(' ') : g)).join(' ');
  }
}

const rendered = (digits: fc.Arbitrary<string>) =>
  fc.tuple(digits, style, fc.array(sep, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }))
    .map(([d, s, seps, cuts]) => ({ digits: d, text: render(d, s, seps, cuts) }));

const prefix = fc.constantFrom('my card number is ', 'sure, it is ', 'Card: ', '', 'the number is ');
const suffix = fc.constantFrom('', ' thanks', ', and the expiry is next year.', '. Is that ok?');

describe('card numbers', () => {
  it('removes every Luhn-valid 13–19 digit number, written or spoken in any grouping', () => {
    fc.assert(
      fc.property(rendered(validCard), prefix, suffix, ({ text }, p, s) => {
        const input = `${p}${text}${s}`;
        expect(redact(input)).toBe(`${p}[card]${s}`);
        expect(containsCardNumber(input)).toBe(true);
      }),
      { numRuns: 600 },
    );
  });

  it('keeps Luhn-invalid digit runs of up to 16 digits such as order numbers, in every form', () => {
    fc.assert(
      fc.property(rendered(invalidRun), fc.constantFrom('my order number is ', 'reference ', ''), suffix, ({ text }, p, s) => {
        const input = `${p}${text}${s}`;
        expect(redact(input)).toBe(input);
        expect(containsCardNumber(input)).toBe(false);
      }),
      { numRuns: 600 },
    );
  });

  it('removes a card read out together with its expiry and CVV, including those', () => {
    expect(redact('it is 4111 1111 1111 1111 12 28 123 ok')).toBe('it is [card] ok');
    expect(redact('four one one one one one one one one one one one one one one one one two three')).toBe('[card]');
    expect(redact('Amex 3782 822463 10005 and that is it')).toBe('Amex [card] and that is it');
  });

  it('keeps dates, times, prices and short numbers', () => {
    for (const t of ['haircut on 2026-11-25 09:00', 'It costs $45.99', 'I have 2 kids', 'Room 1204, floor 12', 'order 12345678']) {
      expect(redact(t)).toBe(t);
    }
  });

  it('ignores digits glued to letters, which are identifiers rather than spoken numbers', () => {
    expect(redact('ticket AB4111111111111111')).toBe('ticket AB4111111111111111');
  });
});

describe('SSNs, e-mail addresses and phone numbers', () => {
  it('removes SSNs written 3-2-4 or said after "social security"', () => {
    expect(redact('my SSN is 123-45-6789.')).toBe('my SSN is [ssn].');
    expect(redact('social security number one two three four five six seven eight nine')).toBe('social security number [ssn]');
    expect(redact('my social is 123456789')).toBe('my social is [ssn]');
  });

  it('keeps 9-digit numbers that cannot be SSNs or have no SSN context', () => {
    expect(redact('tracking 123456789')).toBe('tracking 123456789');
    expect(redact('it is 000-12-3456')).toBe('it is 000-12-3456');
  });

  it('removes written and spoken e-mail addresses but keeps ordinary "at" sentences', () => {
    expect(redact('mail jane.doe+x@example.co.uk today')).toBe('mail [email] today');
    expect(redact('it is jane dot doe at gmail dot com')).toBe('it is [email]');
    expect(redact('see you at noon dot')).toBe('see you at noon dot');
  });

  it('removes phone numbers in E.164, national and spoken forms', () => {
    expect(redact('call +1 555 234 5678 or +44 20 7946 0958')).toBe('call [phone] or [phone]');
    expect(redact('my number is (555) 123-4567')).toBe('my number is [phone]');
    expect(redact('it is five five five one two three four five six seven')).toBe('it is [phone]');
    expect(redact('Oh, 555-123-4567 works')).toBe('Oh, [phone] works');
    expect(redact('or 555-1234')).toBe('or [phone]');
  });
});

describe('configuration and helpers', () => {
  it('checks Luhn like ISO/IEC 7812-1 on known test card numbers', () => {
    for (const n of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '4222222222222']) expect(luhnValid(n)).toBe(true);
    for (const n of ['4111111111111112', '1234567890123', '12a4']) expect(luhnValid(n)).toBe(false);
  });

  it('switches each category off independently', () => {
    const text = 'card 4111 1111 1111 1111, ssn 123-45-6789, mail a@b.io, phone +15552345678';
    expect(redact(text)).toBe('card [card], ssn [ssn], mail [email], phone [phone]');
    expect(redact(text, { card: false })).toBe('card 4111 1111 1111 1111, ssn [ssn], mail [email], phone [phone]');
    expect(redact(text, { ssn: false })).toBe('card [card], ssn 123-45-6789, mail [email], phone [phone]');
    expect(redact(text, { email: false })).toBe('card [card], ssn [ssn], mail a@b.io, phone [phone]');
    expect(redact(text, { phone: false })).toBe('card [card], ssn [ssn], mail [email], phone +15552345678');
  });

  it('maps the config to Deepgram redact values, with only `numbers` for Flux', () => {
    expect(deepgramRedactParams()).toEqual(['pci', 'ssn']);
    expect(deepgramRedactParams({ card: true, ssn: true, phone: true })).toEqual(['pci', 'ssn', 'numbers']);
    expect(deepgramRedactParams({ card: false, ssn: false, phone: false })).toEqual([]);
    expect(deepgramRedactParams({ card: true, ssn: false, phone: false }, { flux: true })).toEqual(['numbers']);
    expect(deepgramRedactParams({ card: false, ssn: false, phone: false }, { flux: true })).toEqual([]);
  });

  it('redacts every string and long number inside tool arguments, keeping keys and other values', () => {
    const args = { card: '4111-1111-1111-1111', n: 4111111111111111, nested: [{ email: 'x@y.com', qty: 2 }], ok: true };
    expect(redactJson(args)).toEqual({ card: '[card]', n: '[card]', nested: [{ email: '[email]', qty: 2 }], ok: true });
    expect(JSON.parse(redactJsonText(JSON.stringify(args)))).toEqual(redactJson(args));
    expect(redactJsonText('not json 4111111111111111')).toBe('not json [card]');
  });
});
