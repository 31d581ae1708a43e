import { test } from 'node:test';
import fc from 'fast-check';
import { event, scenario } from './swarm-orchestrator-scenario';

test('property: after any sequence of failures, node changes, scaling, updates and time, the cluster settles to the specs', () => {
  fc.assert(fc.property(fc.array(event, { maxLength: 25 }), fc.integer({ min: 0, max: 6 }), scenario), { numRuns: 150 });
});
