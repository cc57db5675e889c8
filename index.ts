// The ha-control-plane program: validate the stack config, then register the phase chain up to
// `targetPhase`. Everything else lives in components/ (resources) and topology/ (rules).
import { readStackConfig } from "./components/stackConfig";
import { defineStack } from "./components/stack";

const { topology, secrets } = readStackConfig();

export = defineStack(topology, secrets);
