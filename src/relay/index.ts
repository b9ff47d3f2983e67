export { createOutboxRelay, type OutboxRelayDeps } from './outbox-relay.js';
export { publishWithRetry } from './publish.js';
export {
  createDeadLetterRouter,
  dlqOrderToken,
  SOURCE_SEQ_HEADER,
  type DeadLetterRouterDeps,
} from './dead-letter-router.js';
