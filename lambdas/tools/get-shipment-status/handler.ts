// get_shipment_status handler: one shipment by tracking number, or the caller's open ones, as fields plus one sentence.
import type { Shipment } from '../../shared/business-data';
import { toolsHttpHandler } from '../../shared/dispatch';
import { localDate, speakDate, type LocalDate } from '../../shared/dates';
import { lambdaRuntime } from '../../shared/runtime';
import { defineImplementation } from '../../shared/tool';
import * as keys from '../cache-keys';
import { normalizeCode, spell } from '../common';
import { getShipmentStatusContract } from '../../../contracts/tools/get-shipment-status';

/** Structured fields only; the owner's phone number stays out of the result. */
function view(s: Shipment) {
  return { trackingNumber: s.trackingNumber, status: s.status, eta: s.eta, delayReason: s.delayReason ?? null, carrier: s.carrier };
}

/** One sentence per shipment, e.g. "Your FedEx package ending in 1002 is delayed by ...; it's now expected Saturday". */
export function describe(s: Shipment, today: LocalDate): string {
  const pkg = `Your ${s.carrier} package ending in ${spell(s.trackingNumber.slice(-4))}`;
  const eta = speakDate(s.eta, today);
  switch (s.status) {
    case 'delivered':
      return `${pkg} was delivered${s.eta <= today ? ` ${eta === 'today' ? 'today' : `on ${eta}`}` : ''}.`;
    case 'out_for_delivery':
      return `${pkg} is out for delivery and should arrive today.`;
    case 'delayed':
      return `${pkg} is delayed${s.delayReason ? ` because of ${s.delayReason}` : ''}; it's now expected ${eta === 'today' || eta === 'tomorrow' ? eta : `on ${eta}`}.`;
    case 'label_created':
      return `${pkg} has a shipping label but hasn't been picked up yet; it's expected ${eta === 'today' || eta === 'tomorrow' ? eta : `on ${eta}`}.`;
    default:
      return `${pkg} is on its way and should arrive ${eta === 'today' || eta === 'tomorrow' ? eta : `on ${eta}`}.`;
  }
}

/** Delayed first (the caller is most likely calling about it), then soonest arrival. */
function relevance(a: Shipment, b: Shipment): number {
  return Number(b.status === 'delayed') - Number(a.status === 'delayed') || a.eta.localeCompare(b.eta);
}

export const getShipmentStatus = defineImplementation({
  contract: getShipmentStatusContract,
  writes: false,
  async run(args, ctx) {
    const today = localDate(ctx.now, ctx.timeZone);
    if (args.trackingNumber) {
      const trackingNumber = normalizeCode(args.trackingNumber);
      const s = await ctx.cached(keys.shipments.name, keys.shipments.args({ trackingNumber }), keys.shipments.policy, async (signal) =>
        (await ctx.data.shipment(trackingNumber, { signal })) ?? null,
      );
      if (!s) {
        return { result: { found: false, trackingNumber }, speakable: `I couldn't find a shipment with tracking number ${spell(trackingNumber)}. Could you read it again?` };
      }
      return { result: { found: true, ...view(s) }, speakable: describe(s, today) };
    }
    if (!ctx.callerPhone) {
      return { result: { found: false, reason: 'need_tracking_number' }, speakable: 'What is the tracking number?' };
    }
    const phone = ctx.callerPhone;
    const all = await ctx.cached(keys.shipments.name, keys.shipments.args({ phone }), keys.shipments.policy, (signal) => ctx.data.shipmentsFor(phone, { signal }));
    const open = all.filter((s) => s.status !== 'delivered').sort(relevance);
    if (open.length === 0) {
      return {
        result: { found: false, openShipments: 0 },
        speakable: all.length > 0 ? "Everything sent to you has been delivered; I don't see any open shipments." : "I don't see any shipments for the number you're calling from. Do you have a tracking number?",
      };
    }
    const first = open[0]!;
    const more = open.length > 1 ? ` You have ${open.length - 1} more on the way.` : '';
    return {
      result: { found: true, ...view(first), openShipments: open.length, shipments: open.map(view) },
      speakable: `${describe(first, today)}${more}`,
    };
  },
});

/** Lambda entry: `POST /tools/get_shipment_status` (API Gateway HTTP API v2). */
export const handler = toolsHttpHandler([getShipmentStatus], lambdaRuntime);
