export * from './config.js';
export * from './duration.js';
export * from './errors.js';
export * from './logger.js';
export * from './nats.js';
export * from './nats-server.js';
export * from './order-record.js';
export * from './topology.js';
