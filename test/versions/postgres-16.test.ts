/** The relay's key behaviours on PostgreSQL 16: see ./suite.ts. */
import { versionSuite } from './suite.ts';

versionSuite(16);
