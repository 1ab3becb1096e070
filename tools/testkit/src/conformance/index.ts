export {
  channelProblems,
  defaultsProblems,
  healthShapeProblems,
  stateMetricProblems,
  statsProblems,
} from './checks.js';
export {
  type ConformanceOptions,
  type ConformingComponent,
  conformanceSuite,
  type HookCase,
  loadSecondCopy,
} from './suite.js';
