import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, MasterSpec, pfsenseMemberState, renderHaproxyServerLine, Topology } from "../../topology";
import { childOf } from "../childOptions";
import type { StepSpec } from "../remoteStep";
import { haproxyScriptOptions, haproxyStep, lbOwner, LbCommandSpec, lbStep, lbStepCommand, memberServer, pfsenseStep, phaseOnePool } from "./shared";

/** A new master's pool entry on the load balancer host: add on create and update, remove on destroy. */
export function poolMemberStep(topology: Topology, master: MasterSpec): StepSpec {
    const pool = phaseOnePool(topology);
    const server = memberServer(topology, master);
    const lb = topology.loadBalancer;
    if (lb.kind === "pfsense") {
        return pfsenseStep("add-server", "remove-server", pfsenseMemberState(pool, server, { owner: lbOwner(topology), waitUpSeconds: lb.waitUpSeconds }));
    }
    const common = [...haproxyScriptOptions(topology), "--name", server.name];
    return haproxyStep(["add-server", ...common, "--wait-up", String(lb.waitUpSeconds)], ["remove-server", ...common], renderHaproxyServerLine(pool, server));
}

/** What a pool entry's step ships for the lab's LB user (the script tests run exactly this). */
export function poolMemberCommand(topology: Topology, master: MasterSpec): LbCommandSpec {
    return lbStepCommand(topology.loadBalancer.user, poolMemberStep(topology, master));
}

export interface ApiserverPoolMemberArgs {
    readonly topology: Topology;
    readonly master: MasterSpec;
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
        const { topology, master } = args;
        const pool = phaseOnePool(topology);
        const server = memberServer(topology, master);
        super(COMPONENT_TYPES.apiserverPoolMember, name, { pool: pool.backend.name, server: `${server.name} ${server.address}:${server.port}` }, opts);
        const lb = topology.loadBalancer;
        this.entry = lbStep(`${name}-${lb.kind}`, lb, args.sshPrivateKey, poolMemberStep(topology, master), this, childOf(this, opts)).command;
        this.registerOutputs({ server: server.name, result: this.entry.stdout });
    }
}
