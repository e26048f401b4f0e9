// The tool catalog and the business-time helpers: contracts the media service can offer the LLM, dates said right.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { addDays, localDate, parseTime, resolveDay, speakDate, speakOn, speakTime } from '../../lambdas/shared/dates';
import { pickField } from '../../lambdas/shared/secrets';
import { demoItems, SEED_PHONES } from '../../lambdas/shared/seed';
import { toolContracts } from '../../contracts/catalog';
import { toolImplementations } from '../../lambdas/tools/implementations';
import { bookingIdFor } from '../../lambdas/tools/common';

describe('tool catalog', () => {
  it('lists the five business tools with snake_case names: contract in contracts/tools/<kebab-name>.ts, handler in lambdas/tools/<kebab-name>/', () => {
    expect(toolContracts.map((c) => c.name).sort()).toEqual(['book_appointment', 'change_appointment', 'check_availability', 'get_shipment_status', 'lookup_customer']);
    for (const c of toolContracts) {
      expect(c.name).toMatch(/^[a-z]+(_[a-z]+)*$/);
      const kebab = c.name.replaceAll('_', '-');
      expect(existsSync(new URL(`../../contracts/tools/${kebab}.ts`, import.meta.url))).toBe(true);
      expect(existsSync(new URL(`../../lambdas/tools/${kebab}/handler.ts`, import.meta.url))).toBe(true);
      expect(c.description.length).toBeGreaterThan(80);
      expect(c.timeoutMs).toBeGreaterThan(0);
      expect(c.idempotent).toBe(true);
    }
  });

  it('converts every input schema to a JSON Schema object for the LLM tool list', () => {
    for (const c of toolContracts) {
      const schema = z.toJSONSchema(c.input) as { type: string; properties: Record<string, { description?: string }> };
      expect(schema.type).toBe('object');
      for (const p of Object.values(schema.properties ?? {})) expect(p.description).toBeTruthy();
    }
  });

  it('has one implementation per contract, same order; writes are the booking tools with latency class slow', () => {
    expect(toolImplementations.map((i) => i.contract)).toEqual(toolContracts);
    expect(toolImplementations.filter((i) => i.writes).map((i) => i.contract.name)).toEqual(['book_appointment', 'change_appointment']);
    for (const i of toolImplementations) expect(i.contract.latencyClass).toBe(i.writes ? 'slow' : 'instant');
  });
});

describe('business time', () => {
  const tz = 'America/New_York';
  it('resolves today/tomorrow in the business timezone across the UTC midnight', () => {
    const lateEvening = new Date('2026-03-11T03:30:00Z'); // 23:30 on March 10 in New York
    expect(resolveDay('today', lateEvening, tz)).toBe('2026-03-10');
    expect(resolveDay('Tomorrow', lateEvening, tz)).toBe('2026-03-11');
    expect(resolveDay('2026-03-20', lateEvening, tz)).toBe('2026-03-20');
    expect(resolveDay('2026-03-20T02:00:00Z', lateEvening, tz)).toBe('2026-03-19');
    expect(resolveDay('2026-02-30', lateEvening, tz)).toBeUndefined();
    expect(resolveDay('next week', lateEvening, tz)).toBeUndefined();
    expect(localDate(lateEvening, 'Europe/Berlin')).toBe('2026-03-11');
  });

  it('parses spoken times and says dates and times the way a person would', () => {
    expect(['9', '9am', '9:30 pm', '12 PM', '12am', '14:00', '7 p.m.'].map(parseTime)).toEqual(['09:00', '09:00', '21:30', '12:00', '00:00', '14:00', '19:00']);
    expect(parseTime('13 pm')).toBeUndefined();
    expect(speakTime('13:30')).toBe('1:30 PM');
    expect(speakTime('00:00')).toBe('12 AM');
    expect(speakDate('2026-03-11', '2026-03-10')).toBe('tomorrow');
    expect(speakOn('2026-03-13', '2026-03-10')).toBe('on Friday, March 13');
    expect(addDays('2026-03-07', 2)).toBe('2026-03-09'); // across the DST change
  });
});

describe('seed and ids', () => {
  it('seeds a week of slots for each service, customers with +1555123000x numbers and one delayed shipment', () => {
    const { items, summary } = demoItems('2026-03-10', 7);
    expect(items.filter((i) => String(i.pk).startsWith('SLOT#'))).toHaveLength(7 * 3 * 7);
    expect(Object.values(SEED_PHONES).every((p) => /^\+1555123000\d$/.test(p))).toBe(true);
    expect(items.filter((i) => i.status === 'delayed')).toHaveLength(1);
    expect(summary.bookings.map((b) => b.date)).toEqual(['2026-03-12', '2026-03-11']);
  });

  it('derives a stable 6-character booking code per tool call without look-alike characters', () => {
    expect(bookingIdFor('CA1', 't1')).toBe(bookingIdFor('CA1', 't1'));
    expect(bookingIdFor('CA1', 't1')).not.toBe(bookingIdFor('CA1', 't2'));
    expect(bookingIdFor('CA1', 't1')).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
  });

  it('reads a Redis AUTH token from a JSON or a plain secret string', () => {
    expect(pickField('{"password":"p@ss"}')).toBe('p@ss');
    expect(pickField('{"username":"x","token":"t"}')).toBe('t');
    expect(pickField('plain-token')).toBe('plain-token');
  });
});
