// The five business tools' contracts: what the media service offers the LLM. Contracts only, no handler code.
import type { ToolContract } from './tool-contract';
import { bookAppointmentContract } from './tools/book-appointment';
import { changeAppointmentContract } from './tools/change-appointment';
import { checkAvailabilityContract } from './tools/check-availability';
import { getShipmentStatusContract } from './tools/get-shipment-status';
import { lookupCustomerContract } from './tools/lookup-customer';

/** Every business tool contract, in the order the LLM sees them. */
export const toolContracts: ToolContract[] = [
  lookupCustomerContract,
  checkAvailabilityContract,
  bookAppointmentContract,
  changeAppointmentContract,
  getShipmentStatusContract,
];
