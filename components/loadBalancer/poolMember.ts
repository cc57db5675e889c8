import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ApiserverPool, COMPONENT_TYPES, LoadBalancerConfig, MasterSpec, pfsenseMemberState, PoolServer, renderHaproxyServerLine, Topology } from "@ha-control-plane/topology";
import { childOf } from "../childOptions";
import type { StepSpec } from "../remoteStep";
import { haproxyScriptOptions, haproxyStep, lbOwner, LbCommandSpec, lbStep, lbStepCommand, memberServer, pfsenseStep, phaseOnePool } from "./shared";

/** What a new master's pool entry puts on the load balancer (everything but the SSH key). */
export interface PoolMemberInputs {
    /** The load balancer: kind, host and SSH user, haproxy.cfg, the wait for UP. */
    readonly loadBalancer: LoadBalancerConfig;
    /** The pool phase 1 declared (its backend and health check). */
    readonly pool: ApiserverPool;
    /** The master's server entry: name, address, apiserver port. */
    readonly server: PoolServer;
    /** Marks what this stack puts on the LB ("project/stack"). */
    readonly owner: string;
}

/** The topology's answer to PoolMemberInputs for one new master (the builder's mapping). */
export function poolMemberInputs(topology: Topology, master: MasterSpec): PoolMemberInputs {
    return { loadBalancer: topology.loadBalancer, pool: phaseOnePool(topology), server: memberServer(topology, master), owner: lbOwner(topology) };
}

/** A new master's pool entry on the load balancer host: add on create and update, remove on destroy. */
export function poolMemberStep(a: PoolMemberInputs): StepSpec {
    const lb = a.loadBalancer;
    if (lb.kind === "pfsense") {
        return pfsenseStep("add-server", "remove-server", pfsenseMemberState(a.pool, a.server, { owner: a.owner, waitUpSeconds: lb.waitUpSeconds }));
    }
    const common = [...haproxyScriptOptions(lb.haproxyConfig, a.owner, a.pool.backend.name), "--name", a.server.name];
    return haproxyStep(["add-server", ...common, "--wait-up", String(lb.waitUpSeconds)], ["remove-server", ...common], renderHaproxyServerLine(a.pool, a.server));
}

/** What a pool entry's step ships for the lab's LB user (the script tests run exactly this). */
export function poolMemberCommand(topology: Topology, master: MasterSpec): LbCommandSpec {
    return lbStepCommand(topology.loadBalancer.user, poolMemberStep(poolMemberInputs(topology, master)));
}

export interface ApiserverPoolMemberArgs extends PoolMemberInputs {
    /** A Pulumi secret, never shown. */
    readonly sshPrivateKey: pulumi.Output<string>;
}

/**
 * One new master in the apiserver pool. Created after the master's post-join gate (pass the gate
 * in dependsOn), so it enters the pool only as a working control-plane member, and waits until
 * the LB sees it UP. Being a dependent of the gate, it is the first thing destroyed when the
 * master is rolled back: the pool lets go of it before its etcd member is touched.
 */
export class ApiserverPoolMember extends pulumi.ComponentResource {
    readonly entry: command.remote.Command;

    constructor(name: string, args: ApiserverPoolMemberArgs, opts?: pulumi.ComponentResourceOptions) {
        const { pool, server, loadBalancer: lb } = args;
        super(COMPONENT_TYPES.apiserverPoolMember, name, { pool: pool.backend.name, server: `${server.name} ${server.address}:${server.port}` }, opts);
        this.entry = lbStep(`${name}-${lb.kind}`, lb, args.sshPrivateKey, poolMemberStep(args), this, childOf(this, opts)).command;
        this.registerOutputs({ server: server.name, result: this.entry.stdout });
    }
}
