export {
  channelProblems,
  defaultsProblems,
  healthShapeProblems,
  stateMetricProblems,
  statsProblems,
} from './checks.js';
export { type ConformanceOptions, type ConformingComponent, conformanceSuite, loadSecondCopy } from './suite.js';
