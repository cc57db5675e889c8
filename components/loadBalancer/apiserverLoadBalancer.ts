import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ApiserverPool, COMPONENT_TYPES, LoadBalancerConfig, pfsenseLoadBalancerState, renderHaproxyFragment, Topology } from "@ha-control-plane/topology";
import { childOf } from "../childOptions";
import type { StepSpec } from "../remoteStep";
import { haproxyScriptOptions, haproxyStep, lbOwner, LbCommandSpec, lbStep, lbStepCommand, memberNames, pfsenseStep, phaseOnePool } from "./shared";

/** What phase 1 puts on the load balancer (everything but the SSH key). */
export interface LoadBalancerInputs {
    /** The load balancer: kind, host and SSH user, pfSense interface and host alias, haproxy.cfg, the wait for UP. */
    readonly loadBalancer: LoadBalancerConfig;
    /** The pool as phase 1 declares it: the VIP's frontend and the existing master alone. */
    readonly pool: ApiserverPool;
    /** Marks what this stack puts on the LB ("project/stack"). */
    readonly owner: string;
    /** The cluster VLAN's prefix length (the VIP's IP alias on pfSense). */
    readonly prefixLength: number;
    /** Servers that join the pool later, each through its ApiserverPoolMember: the apply leaves them alone. */
    readonly memberServers: readonly string[];
}

/** The topology's answer to LoadBalancerInputs (the phase 1 builder's mapping). */
export function loadBalancerInputs(topology: Topology): LoadBalancerInputs {
    return {
        loadBalancer: topology.loadBalancer,
        pool: phaseOnePool(topology),
        owner: lbOwner(topology),
        prefixLength: topology.cluster.prefixLength,
        memberServers: memberNames(topology),
    };
}

/** Phase 1's step on the load balancer host: apply on create and update, delete on destroy. */
export function loadBalancerStep(a: LoadBalancerInputs): StepSpec {
    const lb = a.loadBalancer;
    if (lb.kind === "pfsense") {
        const state = pfsenseLoadBalancerState(a.pool, {
            owner: a.owner,
            interface: lb.interface,
            prefixLength: a.prefixLength,
            memberServers: [...a.memberServers],
            waitUpSeconds: lb.waitUpSeconds,
            hostAlias: lb.hostAlias,
        });
        return pfsenseStep("apply", "delete", state);
    }
    const common = haproxyScriptOptions(lb.haproxyConfig, a.owner, a.pool.backend.name);
    const keep = a.memberServers;
    return haproxyStep(
        ["apply", ...common, ...(keep.length ? ["--keep", keep.join(",")] : []), "--wait-up", String(lb.waitUpSeconds)],
        ["delete", ...common],
        renderHaproxyFragment(a.pool, { comment: `${a.owner}: Kubernetes apiserver VIP (rendered from topology/loadBalancer.ts)` }),
    );
}

/** What phase 1's step ships for the lab's LB user (the script tests run exactly this). */
export function loadBalancerCommand(topology: Topology): LbCommandSpec {
    return lbStepCommand(topology.loadBalancer.user, loadBalancerStep(loadBalancerInputs(topology)));
}

export interface ApiserverLoadBalancerArgs extends LoadBalancerInputs {
    /** A Pulumi secret, never shown. */
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
        const { pool, loadBalancer: lb } = args;
        const check = pool.backend.healthCheck;
        // The pool's facts as inputs, so the plan shows them and policies can read the check.
        super(
            COMPONENT_TYPES.apiserverLoadBalancer,
            name,
            {
                kind: lb.kind,
                frontend: `${pool.frontend.address}:${pool.frontend.port}`,
                pool: pool.backend.name,
                servers: pool.backend.servers.map((s) => `${s.name} ${s.address}:${s.port}`),
                healthCheck: { ...check },
            },
            opts,
        );
        this.pool = pool;
        this.apply = lbStep(`${name}-${lb.kind}`, lb, args.sshPrivateKey, loadBalancerStep(args), this, childOf(this, opts)).command;
        this.registerOutputs({ frontend: `${pool.frontend.address}:${pool.frontend.port}`, pool: pool.backend.name, result: this.apply.stdout });
    }
}
