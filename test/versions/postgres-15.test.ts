/** The relay's key behaviours on PostgreSQL 15: see ./suite.ts. */
import { versionSuite } from './suite.ts';

versionSuite(15);
