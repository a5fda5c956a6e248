import { MemoryChannelHistory } from '../../src/core/history/memory.js';
import { historyContract } from './history.contract.js';

let clock = Date.now();

historyContract({
  name: 'memory',
  skip: false,
  shared: false,
  store: () => new MemoryChannelHistory(() => clock),
  advance: (ms) => {
    clock += ms;
  },
  cleanup: async () => {},
});
