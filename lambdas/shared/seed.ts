// Demo business data (services, a week of slots from today, customers, shipments) and `npm run seed` to load it.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readToolsConfig } from './config';
import { addDays, localDate, type LocalDate } from './dates';
import { keys } from './dynamo-business-data';
import { createDynamoClient, documentClient, ensureTables, type TableTarget } from './tables';

/** Opening hours of the demo business: the slots written for every day. */
export const SEED_TIMES = ['09:00', '10:00', '11:00', '13:00', '14:00', '15:00', '16:00'] as const;
export const SEED_SERVICES = [
  { id: 'haircut', name: 'haircut', durationMinutes: 30 },
  { id: 'beard-trim', name: 'beard trim', durationMinutes: 20 },
  { id: 'hair-color', name: 'hair color', durationMinutes: 90 },
] as const;
/** Demo callers. +15551230001 has no appointment; ...0002 has one and a delayed shipment; ...0003 one booking, one shipment. */
export const SEED_PHONES = { alex: '+15551230001', sam: '+15551230002', priya: '+15551230003' } as const;

export interface SeedOptions {
  /** Document client on the target store. */
  doc: DynamoDBDocumentClient;
  businessTable: string;
  /** "Today" for the slot week and the relative dates. @default new Date() */
  now?: Date;
  timeZone: string;
  /** Days of slots from today. @default 7 */
  days?: number;
}

/** What was seeded, so tests and the local kit can refer to it without repeating the data. */
export interface SeedSummary {
  today: LocalDate;
  days: number;
  services: string[];
  times: readonly string[];
  /** Pre-booked slots: `{ service, date, time, bookingId, phone }`. */
  bookings: { bookingId: string; service: string; date: LocalDate; time: string; phone: string }[];
  trackingNumbers: { delayed: string; inTransit: string; delivered: string; outForDelivery: string };
}

/** Builds every demo item for `today` (pure, so tests can see what will be written). */
export function demoItems(today: LocalDate, days: number): { items: Record<string, unknown>[]; summary: SeedSummary } {
  const items: Record<string, unknown>[] = [];
  for (const s of SEED_SERVICES) items.push({ ...keys.service(s.id), name: s.name, durationMinutes: s.durationMinutes });

  const bookings: SeedSummary['bookings'] = [
    { bookingId: 'SAM2H4', service: 'haircut', date: addDays(today, 2), time: '14:00', phone: SEED_PHONES.sam },
    { bookingId: 'PRI1K7', service: 'haircut', date: addDays(today, 1), time: '11:00', phone: SEED_PHONES.priya },
  ];
  const held = new Map(bookings.map((b) => [`${b.service}|${b.date}|${b.time}`, b]));
  for (let d = 0; d < days; d++) {
    const date = addDays(today, d);
    for (const s of SEED_SERVICES) {
      for (const time of SEED_TIMES) {
        const b = held.get(`${s.id}|${date}|${time}`);
        items.push({ ...keys.slot(s.id, date, time), ...(b ? { bookingId: b.bookingId, phone: b.phone } : {}) });
      }
    }
  }
  for (const b of bookings) {
    items.push({ ...keys.booking(b.bookingId), ...keys.bookingGsi(b.phone, b.date, b.time), ...b, status: 'booked' });
  }

  const customers = [
    { phone: SEED_PHONES.alex, firstName: 'Alex', lastName: 'Rivera', email: 'alex@example.com', address: '12 Elm Street', notes: 'Prefers mornings' },
    { phone: SEED_PHONES.sam, firstName: 'Sam', lastName: 'Chen', email: 'sam@example.com', address: '400 Pine Avenue', notes: 'VIP' },
    { phone: SEED_PHONES.priya, firstName: 'Priya', lastName: 'Patel', email: 'priya@example.com', address: '9 Oak Court' },
  ];
  for (const c of customers) items.push({ ...keys.customer(c.phone), ...c });

  const shipments = [
    { trackingNumber: 'VA1001', phone: SEED_PHONES.alex, status: 'in_transit', carrier: 'UPS', eta: addDays(today, 2) },
    { trackingNumber: 'VA1002', phone: SEED_PHONES.sam, status: 'delayed', carrier: 'FedEx', eta: addDays(today, 4), delayReason: 'severe weather at the regional hub' },
    { trackingNumber: 'VA1003', phone: SEED_PHONES.sam, status: 'delivered', carrier: 'USPS', eta: addDays(today, -3) },
    { trackingNumber: 'VA1004', phone: SEED_PHONES.priya, status: 'out_for_delivery', carrier: 'UPS', eta: today },
  ];
  for (const s of shipments) items.push({ ...keys.shipment(s.trackingNumber), ...keys.shipmentGsi(s.phone, s.eta, s.trackingNumber), ...s });

  return {
    items,
    summary: {
      today,
      days,
      services: SEED_SERVICES.map((s) => s.id),
      times: SEED_TIMES,
      bookings,
      trackingNumbers: { inTransit: 'VA1001', delayed: 'VA1002', delivered: 'VA1003', outForDelivery: 'VA1004' },
    },
  };
}

/** Writes the demo items (BatchWrite, 25 per request, unprocessed items retried). Tables must exist. */
export async function seedBusinessData(opts: SeedOptions): Promise<SeedSummary> {
  const today = localDate(opts.now ?? new Date(), opts.timeZone);
  const { items, summary } = demoItems(today, opts.days ?? 7);
  for (let i = 0; i < items.length; i += 25) {
    let pending: Record<string, { PutRequest: { Item: Record<string, unknown> } }[]> | undefined = {
      [opts.businessTable]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
    };
    for (let attempt = 0; pending && Object.keys(pending).length > 0; attempt++) {
      if (attempt > 10) throw new Error('seed: unprocessed items after 10 retries');
      const out = await opts.doc.send(new BatchWriteCommand({ RequestItems: pending }));
      pending = out.UnprocessedItems as typeof pending;
      if (pending && Object.keys(pending).length > 0) await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
    }
  }
  return summary;
}

/** Creates the tables if missing, then seeds. Used by `npm run seed`, the local stack and the tests. */
export async function createAndSeed(target: TableTarget & { timeZone: string; now?: Date; days?: number }): Promise<SeedSummary> {
  const client = createDynamoClient(target);
  try {
    await ensureTables(client, target);
    return await seedBusinessData({ doc: documentClient(client), businessTable: target.businessTable, timeZone: target.timeZone, now: target.now, days: target.days });
  } finally {
    client.destroy();
  }
}

const USAGE = `usage: npm run seed -- --stage <dev|staging|prod> [--days N]   seed a deployed stage's business table
       npm run seed -- --endpoint <url> [--days N]                    create and seed local tables (dynalite)
--stage reads the table names from the stage's Data stack outputs (AWS credentials for its account);
--endpoint uses static local credentials and BUSINESS_TABLE / IDEMPOTENCY_TABLE (defaults business / idempotency).`;

/** Test seams: where the CloudFormation client and the DynamoDB client point (real AWS when absent). */
export interface SeedAwsOptions {
  aws?: { endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } };
  dynamoEndpoint?: string;
}

/** The business table of a deployed stage, from its Data stack's BusinessTableName output. */
export async function deployedBusinessTable(stageName: string, aws: SeedAwsOptions['aws'] = {}): Promise<{ table: string; region: string }> {
  const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
  const { clientConfig, requireOutput, stackNames, stackOutputs, stageFromArg } = await import('../../local/aws-stage');
  const stage = stageFromArg(stageName);
  const cfn = new CloudFormationClient(clientConfig(stage, aws));
  try {
    const name = stackNames(stage).data;
    return { table: requireOutput(await stackOutputs(cfn, name), 'BusinessTableName', name), region: stage.region };
  } finally {
    cfn.destroy();
  }
}

/**
 * `npm run seed`: `--stage NAME` writes into the deployed stage's own (encrypted) table, never creating one;
 * `--endpoint URL` creates and seeds local tables. Neither is refused: without a target the SDK would reach the
 * real account and create stray unencrypted tables there.
 */
export async function seedMain(argv: string[], env: NodeJS.ProcessEnv = process.env, opts: SeedAwsOptions = {}, log = console.log): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { endpoint: { type: 'string' }, stage: { type: 'string' }, days: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const days = values.days ? Number(values.days) : undefined;
  if (days !== undefined && !(Number.isInteger(days) && days > 0)) throw new Error(`--days must be a positive whole number, got ${values.days}`);
  if (values.stage && values.endpoint) throw new Error('pass either --stage (deployed) or --endpoint (local), not both');
  if (values.stage) {
    const config = readToolsConfig(env);
    const { table, region } = await deployedBusinessTable(values.stage, opts.aws);
    const client = createDynamoClient({ region, endpoint: opts.dynamoEndpoint });
    try {
      const summary = await seedBusinessData({ doc: documentClient(client), businessTable: table, timeZone: config.timeZone, days });
      log(`seeded ${table} (stage ${values.stage}): ${summary.services.length} services, ${summary.days} days of slots from ${summary.today}, 3 customers, 4 shipments`);
    } finally {
      client.destroy();
    }
    return 0;
  }
  if (!values.endpoint) throw new Error(`no target: pass --stage NAME for a deployed stage or --endpoint URL for local tables\n${USAGE}`);
  const config = readToolsConfig({ ...env, DYNAMODB_ENDPOINT: values.endpoint });
  const summary = await createAndSeed({
    businessTable: config.businessTable,
    idempotencyTable: config.idempotencyTable,
    endpoint: config.dynamodbEndpoint,
    region: config.region,
    timeZone: config.timeZone,
    days,
  });
  log(`seeded ${config.businessTable}: ${summary.services.length} services, ${summary.days} days of slots from ${summary.today}, 3 customers, 4 shipments`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  seedMain(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
