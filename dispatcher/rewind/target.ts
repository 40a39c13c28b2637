// The parser lives in core: the controller checks a Trigger's rewind annotation with it too.
export { describeTarget, parseRewindTarget, type RewindTarget } from '../../core/rewind-target.js';
