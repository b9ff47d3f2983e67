export { createOutboxRelay, type OutboxRelayDeps } from './outbox-relay.js';
export { publishWithRetry } from './publish.js';
export {
  createDeadLetterRouter,
  dlqOrderToken,
  SOURCE_SEQ_HEADER,
  type DeadLetterRouterDeps,
} from './dead-letter-router.js';
export {
  createDeadLetterDesk,
  type DeadLetter,
  type DeadLetterDesk,
  type DeadLetterFilter,
  type ListPage,
  type Page,
  type RedriveOutcome,
  type RedrivePage,
  type RedriveResult,
} from './dead-letter-desk.js';
