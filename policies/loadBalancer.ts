/**
 * apiserver-health-check: what the program ships to the load balancer (the pfSense state
 * document or the haproxy.cfg fragment on the command's stdin), read back with the pure layer's
 * readers and held to its rule.
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { checkApiserverHealthCheck, COMPONENT_TYPES, DEFAULT_MAX_DETECTION_MS, ObservedPool, readLoadBalancerPayload } from "@ha-control-plane/topology";
import { COMMAND_TYPES, knownString, stepsOf } from "./resources";

/** Load-balancer commands (phase 1's pool, each master's pool entry) with the pool they ship. */
export function shippedPools(resources: readonly PolicyResource[]): { resource: PolicyResource; pool: ObservedPool | undefined }[] {
    return stepsOf(resources, [COMPONENT_TYPES.apiserverLoadBalancer, COMPONENT_TYPES.apiserverPoolMember])
        .filter((r) => COMMAND_TYPES.includes(r.type))
        .flatMap((resource) => {
            const stdin = knownString(() => resource.props.stdin);
            // Unknown during a preview: nothing to read yet, the up's preview of it is checked later.
            return stdin === undefined ? [] : [{ resource, pool: readLoadBalancerPayload(stdin) }];
        });
}

export interface HealthCheckConfig {
    readonly maxDetectionMs: number;
}

export const apiserverHealthCheck: StackValidationPolicy = {
    name: "apiserver-health-check",
    description:
        "The apiserver pool checks every server with HTTPS GET /readyz expecting 200 (not a TCP check, not /healthz, " +
        "deprecated since Kubernetes 1.16), and takes an unready apiserver out within maxDetectionMs.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            maxDetectionMs: {
                type: "integer",
                minimum: 100,
                default: DEFAULT_MAX_DETECTION_MS,
                description: "Longest an answering but unready apiserver may stay in the pool: inter + (fall - 1) x fastinter, in ms.",
            },
        },
    },
    validateStack: (args, reportViolation) => {
        const { maxDetectionMs } = args.getConfig<HealthCheckConfig>();
        for (const { resource, pool } of shippedPools(args.resources)) {
            if (!pool) {
                reportViolation(`${resource.name} configures the apiserver load balancer, but its payload holds no pool this policy can read: the health check cannot be verified`, resource.urn);
                continue;
            }
            for (const problem of checkApiserverHealthCheck(pool, maxDetectionMs ?? DEFAULT_MAX_DETECTION_MS)) reportViolation(`${resource.name}: ${problem}`, resource.urn);
        }
    },
};
