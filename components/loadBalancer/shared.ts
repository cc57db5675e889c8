/**
 * What the load balancer components share: the pool model built from the topology, the owner
 * marker, and how the reconcile scripts are shipped and invoked for each LB kind.
 */
import * as pulumi from "@pulumi/pulumi";
import {
    apiserverPool,
    ApiserverPool,
    LoadBalancerKind,
    poolServer,
    PoolServer,
    Topology,
} from "@ha-control-plane/topology";
import { RemoteStep, shipStep, StepSpec } from "../remoteStep";
import type { ScriptId } from "../scriptManifest";
import { bashPayloadPrefix, phpStatePrefix } from "../shipping/payloads";
import type { ShippedCommand } from "../shipped";

export const PFSENSE_SCRIPT = "pfsense/haproxy-reconcile.php" satisfies ScriptId;
export const HAPROXY_SCRIPT = "haproxy/apiserver-lb.sh" satisfies ScriptId;

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

/** The options the plain-HAProxy script gets on every action: its config file, the owner marker, the backend. */
export function haproxyScriptOptions(haproxyConfig: string, owner: string, backend: string): string[] {
    return ["--config", haproxyConfig, "--owner", owner, "--backend", backend];
}

/** What an LB step ships: the command lines (both: every LB step undoes itself) and the stdin. */
export type LbCommandSpec = ShippedCommand & { readonly delete: string };

function lbShipped(user: string, step: StepSpec): LbCommandSpec {
    const shipped = shipStep(user, step);
    if (shipped.delete === undefined) throw new Error(`${step.script}: a load balancer step undoes itself on delete`);
    return { ...shipped, delete: shipped.delete };
}

/** pfSense: the PHP script (with the stats reader) to `php --`, its JSON document in front; pfSense has no sudo (its admin is root-equivalent). */
export function pfsenseStep(action: string, deleteAction: string, state: unknown): StepSpec {
    return { script: PFSENSE_SCRIPT, args: [action], deleteArgs: [deleteAction], runAs: "user", stdinPrefix: phpStatePrefix(state) };
}

/** What a pfSense step ships; it runs as the SSH user, so the same for any user. */
export function pfsenseCommand(action: string, deleteAction: string, state: unknown): LbCommandSpec {
    return lbShipped("", pfsenseStep(action, deleteAction, state));
}

/** Plain HAProxy: the bash script, as root, its payload (fragment or server line) in front. */
export function haproxyStep(args: readonly string[], deleteArgs: readonly string[], payload: string): StepSpec {
    return { script: HAPROXY_SCRIPT, args, deleteArgs, runAs: "root", stdinPrefix: bashPayloadPrefix(payload) };
}

/** What a plain-HAProxy step ships for the LB's SSH user. */
export function haproxyCommand(user: string, args: readonly string[], deleteArgs: readonly string[], payload: string): LbCommandSpec {
    return lbShipped(user, haproxyStep(args, deleteArgs, payload));
}

/** What a step ships for the LB's SSH user (the script tests run exactly this). */
export function lbStepCommand(user: string, step: StepSpec): LbCommandSpec {
    return lbShipped(user, step);
}

/** The load balancer host as a step reaches it. */
export interface LbHost {
    readonly kind: LoadBalancerKind;
    /** What SSH dials. */
    readonly host: string;
    readonly user: string;
}

/**
 * The remote step for a spec, on the LB host; its command keeps the name and, through the alias
 * to `formerParent`, the URN it had before RemoteStep. A changed document re-runs the create
 * action as an update (the scripts are idempotent and change only what differs); should the
 * engine ever replace it, the old one is deleted first, since the new one's create and the old
 * one's delete touch the same pool.
 */
export function lbStep(
    name: string,
    lb: LbHost,
    sshPrivateKey: pulumi.Output<string>,
    step: StepSpec,
    formerParent: pulumi.Resource,
    opts: pulumi.ComponentResourceOptions,
): RemoteStep {
    return new RemoteStep(
        name,
        {
            host: { name: lb.host, address: lb.host },
            user: lb.user,
            privateKey: sshPrivateKey,
            ...step,
            formerParent,
            commandOptions: { deleteBeforeReplace: true },
        },
        opts,
    );
}
