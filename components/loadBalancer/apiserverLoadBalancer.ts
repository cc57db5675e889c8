import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ApiserverPool, COMPONENT_TYPES, pfsenseLoadBalancerState, renderHaproxyFragment, Topology } from "../../topology";
import { childOf } from "../childOptions";
import type { StepSpec } from "../remoteStep";
import { haproxyScriptOptions, haproxyStep, lbOwner, LbCommandSpec, lbStep, lbStepCommand, memberNames, pfsenseStep, phaseOnePool } from "./shared";

/** Phase 1's step on the load balancer host: apply on create and update, delete on destroy. */
export function loadBalancerStep(topology: Topology): StepSpec {
    const pool = phaseOnePool(topology);
    const lb = topology.loadBalancer;
    if (lb.kind === "pfsense") {
        const state = pfsenseLoadBalancerState(pool, {
            owner: lbOwner(topology),
            interface: lb.interface,
            prefixLength: topology.cluster.prefixLength,
            memberServers: memberNames(topology),
            waitUpSeconds: lb.waitUpSeconds,
            hostAlias: lb.hostAlias,
        });
        return pfsenseStep("apply", "delete", state);
    }
    const common = haproxyScriptOptions(topology);
    const keep = memberNames(topology);
    return haproxyStep(
        ["apply", ...common, ...(keep.length ? ["--keep", keep.join(",")] : []), "--wait-up", String(lb.waitUpSeconds)],
        ["delete", ...common],
        renderHaproxyFragment(pool, { comment: `${lbOwner(topology)}: Kubernetes apiserver VIP (rendered from topology/loadBalancer.ts)` }),
    );
}

/** What phase 1's step ships for the lab's LB user (the script tests run exactly this). */
export function loadBalancerCommand(topology: Topology): LbCommandSpec {
    return lbStepCommand(topology.loadBalancer.user, loadBalancerStep(topology));
}

export interface ApiserverLoadBalancerArgs {
    readonly topology: Topology;
    readonly sshPrivateKey: pulumi.Output<string>;
}

/**
 * Phase 1: the VIP on the load balancer with a TCP frontend on <vip>:<apiserverPort> and the
 * apiserver pool, checked with HTTPS GET /readyz, holding the existing master. On pfSense (the
 * lab) the VIP is an IP alias on the cluster VLAN, with a host alias naming it for firewall
 * rules (seed 1.1), and the pool and frontend are the HAProxy package's; on a Linux host a marked
 * block in haproxy.cfg. New masters enter the pool later, each through its own
 * ApiserverPoolMember. Destroying this removes the frontend, the pool, the host alias and the
 * VIP, and nothing else.
 */
export class ApiserverLoadBalancer extends pulumi.ComponentResource {
    readonly pool: ApiserverPool;
    readonly apply: command.remote.Command;

    constructor(name: string, args: ApiserverLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        const { topology } = args;
        const pool = phaseOnePool(topology);
        const check = pool.backend.healthCheck;
        // The pool's facts as inputs, so the plan shows them and policies can read the check.
        super(
            COMPONENT_TYPES.apiserverLoadBalancer,
            name,
            {
                kind: topology.loadBalancer.kind,
                frontend: `${pool.frontend.address}:${pool.frontend.port}`,
                pool: pool.backend.name,
                servers: pool.backend.servers.map((s) => `${s.name} ${s.address}:${s.port}`),
                healthCheck: { ...check },
            },
            opts,
        );
        this.pool = pool;
        const lb = topology.loadBalancer;
        this.apply = lbStep(`${name}-${lb.kind}`, lb, args.sshPrivateKey, loadBalancerStep(topology), this, childOf(this, opts)).command;
        this.registerOutputs({ frontend: `${pool.frontend.address}:${pool.frontend.port}`, pool: pool.backend.name, result: this.apply.stdout });
    }
}
