export { Supervisor, TSX_IMPORT } from './supervise.ts';
