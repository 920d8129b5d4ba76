/** The relay's key behaviours on PostgreSQL 18: see ./suite.ts. */
import { versionSuite } from './suite.ts';

versionSuite(18);
