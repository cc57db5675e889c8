/**
 * phase-order: the order the migration must keep, checked on the dependency graph the engine
 * will walk (creates in this order, destroys in reverse). Steps are recognised by their
 * component's type and the facts it registers, never by resource names.
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import {
    checkPhaseOrder,
    COMPONENT_TYPES,
    JoinStep,
    KubeletCutoverStep,
    LOAD_BALANCER_PHASE_COMPONENTS,
    readJoinFacts,
    readKubeletCutoverFacts,
} from "@ha-control-plane/topology";
import { DependencyGraph } from "./graph";
import { componentFacts, stepsOf, unitsOf } from "./resources";

type Report = Parameters<StackValidationPolicy["validateStack"]>[1];

/** Each new master's join and gate, from the facts its ControlPlaneJoin registered. */
export function joinSteps(resources: readonly PolicyResource[], report?: Report): JoinStep<PolicyResource>[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const out: JoinStep<PolicyResource>[] = [];
    for (const { component } of unitsOf(resources, COMPONENT_TYPES.controlPlaneJoin)) {
        const facts = readJoinFacts(componentFacts(component));
        const join = facts && byUrn.get(facts.join);
        const gate = facts && byUrn.get(facts.gate);
        if (!facts || !join || !gate) {
            report?.(`control-plane join ${component.name} does not register which of its steps joins and which gates (topology/facts.ts joinFacts): its order cannot be checked`, component.urn);
            continue;
        }
        out.push({ node: facts.node, member: facts.member, join, gate });
    }
    return out;
}

function cutoverSteps(resources: readonly PolicyResource[], report: Report): KubeletCutoverStep<PolicyResource>[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const out: KubeletCutoverStep<PolicyResource>[] = [];
    for (const { component } of unitsOf(resources, COMPONENT_TYPES.kubeletCutover)) {
        const facts = readKubeletCutoverFacts(componentFacts(component));
        const flip = facts && byUrn.get(facts.flip);
        const ready = facts && byUrn.get(facts.ready);
        if (!facts || !flip || !ready) {
            report(`kubelet cut-over ${component.name} does not register which step flips and which waits for Ready (topology/facts.ts kubeletCutoverFacts): its order cannot be checked`, component.urn);
            continue;
        }
        out.push({ node: facts.node, position: facts.position, flip, ready });
    }
    return out;
}

export const phaseOrder: StackValidationPolicy = {
    name: "phase-order",
    description:
        "The migration keeps its order in the dependency graph: every control-plane join waits for the phase 0 retrofit " +
        "and the whole load balancer phase, each join for the previous master's gate, every kubelet cut-over for all " +
        "joins, and the kubelet flips form one chain (one node at a time).",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const { resources } = args;
        const graph = new DependencyGraph(resources);
        const violations = checkPhaseOrder<PolicyResource>({
            retrofit: stepsOf(resources, [COMPONENT_TYPES.retrofit]),
            loadBalancer: stepsOf(resources, LOAD_BALANCER_PHASE_COMPONENTS),
            joins: joinSteps(resources, reportViolation),
            kubeletCutovers: cutoverSteps(resources, reportViolation),
            waitsFor: (a, b) => graph.waitsFor(a, b),
            label: (r) => r.name,
        });
        for (const v of violations) reportViolation(v.message, v.at?.urn);
    },
};
