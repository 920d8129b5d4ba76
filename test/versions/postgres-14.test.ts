/** The relay's key behaviours on PostgreSQL 14: see ./suite.ts. */
import { versionSuite } from './suite.ts';

versionSuite(14);
