/**
 * What the load balancer components share: the pool model built from the topology, the owner
 * marker, and how the reconcile scripts are shipped and invoked for each LB kind.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    apiserverPool,
    ApiserverPool,
    poolServer,
    PoolServer,
    Topology,
} from "../../topology";
import { bashWithPayload, phpWithState } from "../shipping/payloads";
import { HAPROXY_STATS_LIB, phpBundle } from "../shipping/phpBundle";
import { asRoot } from "../kubeadm/options";
import { rerunOnUpdate } from "../commandLifecycle";
import { scriptText } from "../scriptFile";
import { sshConnection } from "../sshConnection";

export const PFSENSE_SCRIPT = "pfsense/haproxy-reconcile.php";
export const HAPROXY_SCRIPT = "haproxy/apiserver-lb.sh";

/** Marks what this stack put on the load balancer, e.g. "ha-control-plane/lab". */
export function lbOwner(topology: Topology): string {
    return `${topology.project}/${topology.stack}`;
}

/** The pool as phase 1 declares it: the existing master alone. */
export function phaseOnePool(topology: Topology): ApiserverPool {
    return apiserverPool(topology.cluster, [memberServer(topology, topology.existingMaster)], { healthCheck: topology.loadBalancer.healthCheck });
}

export function memberServer(topology: Topology, master: { readonly name: string; readonly ip: string }): PoolServer {
    return poolServer(master, topology.cluster.apiserverPort);
}

/** Servers that join the pool one by one after their gate; the phase 1 apply leaves them alone. */
export function memberNames(topology: Topology): string[] {
    return topology.newMasters.map((m) => m.name);
}

/** The options the plain-HAProxy script gets on every action. */
export function haproxyScriptOptions(topology: Topology): string[] {
    return ["--config", topology.loadBalancer.haproxyConfig, "--owner", lbOwner(topology), "--backend", phaseOnePool(topology).backend.name];
}

export interface LbCommandSpec {
    readonly create: string;
    readonly delete: string;
    readonly stdin: string;
}

/** pfSense: the PHP script (with the stats reader) on stdin, its JSON document in front; `php --` runs stdin. */
export function pfsenseCommand(action: string, deleteAction: string, state: unknown): LbCommandSpec {
    return { create: `php -- ${action}`, delete: `php -- ${deleteAction}`, stdin: phpWithState(phpBundle({ libs: [HAPROXY_STATS_LIB], main: PFSENSE_SCRIPT }), state) };
}

/** Plain HAProxy: the bash script on stdin, its payload (fragment or server line) in front. */
export function haproxyCommand(user: string, args: readonly string[], deleteArgs: readonly string[], payload: string): LbCommandSpec {
    const run = (a: readonly string[]) => `${asRoot(user)}bash -s -- ${a.join(" ")}`;
    return { create: run(args), delete: run(deleteArgs), stdin: bashWithPayload(scriptText(HAPROXY_SCRIPT), payload) };
}

/**
 * The remote command for a spec. A changed document re-runs the create action as an update
 * (the scripts are idempotent and change only what differs); should the engine ever replace it,
 * the old one is deleted first, since the new one's create and the old one's delete touch the
 * same pool.
 */
export function lbCommand(
    name: string,
    topology: Topology,
    sshPrivateKey: pulumi.Output<string>,
    spec: LbCommandSpec,
    opts: pulumi.CustomResourceOptions,
): command.remote.Command {
    const { host, user } = topology.loadBalancer;
    return new command.remote.Command(
        name,
        {
            connection: sshConnection(host, user, sshPrivateKey),
            create: spec.create,
            ...rerunOnUpdate(spec.create),
            delete: spec.delete,
            stdin: spec.stdin,
            logging: command.types.enums.remote.Logging.StdoutAndStderr,
        },
        { ...opts, deleteBeforeReplace: true },
    );
}

