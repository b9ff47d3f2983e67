export {
  createActorStore,
  initialRecord,
  nextRecord,
  type ActorStore,
  type StoredOrder,
} from './actor-store.js';
export { orderMachine, type OrderEvent, type OrderInput } from './order.machine.js';
export { createPaymentClient, type PaymentClient } from './payment-client.js';
export { createWorker, type WorkerDeps } from './worker.js';
