export { createApp, type AppDeps, type QueuePort } from './app.ts';
