/** The relay's key behaviours on PostgreSQL 17: see ./suite.ts. */
import { versionSuite } from './suite.ts';

versionSuite(17);
