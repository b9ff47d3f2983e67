export { buildApp, type AppDeps } from './app.js';
export { createGateway, IDEMPOTENCY_LEASE_MS, type Gateway } from './gateway.js';
export { createAuthenticator, DEFAULT_TENANT } from './auth.js';
export { ProblemError } from './problem.js';
