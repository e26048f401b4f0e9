// All five tool implementations in one list, for the routes that serve every tool (Vapi webhook, local adapter).
import type { ToolImpl } from '../shared/tool';
import { bookAppointment } from './book-appointment/handler';
import { changeAppointment } from './change-appointment/handler';
import { checkAvailability } from './check-availability/handler';
import { getShipmentStatus } from './get-shipment-status/handler';
import { lookupCustomer } from './lookup-customer/handler';

/** The implementations behind `toolContracts`, same order. */
export const toolImplementations: readonly ToolImpl[] = [lookupCustomer, checkAvailability, bookAppointment, changeAppointment, getShipmentStatus] as ToolImpl[];
