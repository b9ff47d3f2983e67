export { buildApp, type AppDeps } from './app.js';
export { createGateway, type Gateway } from './gateway.js';
export { createAuthenticator, DEFAULT_TENANT } from './auth.js';
export { ProblemError } from './problem.js';
