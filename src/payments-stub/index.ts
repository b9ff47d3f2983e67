export {
  createPaymentsStub,
  DEFAULT_FAULTS,
  type FaultSettings,
  type PaymentsStub,
} from './server.js';
export { PaymentLedger, type LedgerEntry } from './ledger.js';
