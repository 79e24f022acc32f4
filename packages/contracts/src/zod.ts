import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Zod 4 copies prototype methods onto each schema when it is made, so the .openapi() method that
// openapi.ts relies on must be added before any contract schema exists: every schema file imports z
// from here.
extendZodWithOpenApi(z);

export { z };
