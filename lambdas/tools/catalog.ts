// The five business tools' contracts: what the media service offers the LLM. Contracts only, no handler code.
import type { ToolContract } from '../shared/contract';
import { bookAppointmentContract } from './book-appointment/contract';
import { changeAppointmentContract } from './change-appointment/contract';
import { checkAvailabilityContract } from './check-availability/contract';
import { getShipmentStatusContract } from './get-shipment-status/contract';
import { lookupCustomerContract } from './lookup-customer/contract';

/** Every business tool contract, in the order the LLM sees them. */
export const toolContracts: ToolContract[] = [
  lookupCustomerContract,
  checkAvailabilityContract,
  bookAppointmentContract,
  changeAppointmentContract,
  getShipmentStatusContract,
];
