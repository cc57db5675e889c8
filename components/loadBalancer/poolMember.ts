import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, MasterSpec, pfsenseMemberState, renderHaproxyServerLine, Topology } from "../../topology";
import { childOf } from "../childOptions";
import { haproxyCommand, haproxyScriptOptions, lbCommand, lbOwner, LbCommandSpec, memberServer, pfsenseCommand, phaseOnePool } from "./shared";

/** A new master's pool entry on the load balancer host: add on create and update, remove on destroy. */
export function poolMemberCommand(topology: Topology, master: MasterSpec): LbCommandSpec {
    const pool = phaseOnePool(topology);
    const server = memberServer(topology, master);
    const lb = topology.loadBalancer;
    if (lb.kind === "pfsense") {
        return pfsenseCommand("add-server", "remove-server", pfsenseMemberState(pool, server, { owner: lbOwner(topology), waitUpSeconds: lb.waitUpSeconds }));
    }
    const common = [...haproxyScriptOptions(topology), "--name", server.name];
    return haproxyCommand(lb.user, ["add-server", ...common, "--wait-up", String(lb.waitUpSeconds)], ["remove-server", ...common], renderHaproxyServerLine(pool, server));
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
        const spec = poolMemberCommand(topology, master);
        this.entry = lbCommand(`${name}-${lb.kind}`, topology, args.sshPrivateKey, spec, childOf(this, opts));
        this.registerOutputs({ server: server.name, result: this.entry.stdout });
    }
}
