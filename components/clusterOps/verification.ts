/**
 * Phase 6: end-to-end verification gates, commands that fail the up when the cluster is not
 * what the earlier phases promised. They run when created and whenever their inputs change
 * (re-run them at will: pulumi up --replace '<urn>'). The destructive failover test (rebooting a
 * master) is a runbook, docs/runbook-failover-test.md, not a gate.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, CutoverNode, flagExpectations, LoadBalancerKind, MasterSpec, Topology } from "@ha-control-plane/topology";
import { childOf } from "../childOptions";
import type { ShippedCommand } from "../shipped";
import { KUBELET_CONF } from "./cutover";
import { FlagRollout, FLAGS_SCRIPT, rolloutArgs } from "./flagParity";
import { RemoteStep, shipStep, StepHost, StepSpec } from "../remoteStep";
import { RemoteScriptArgs, remoteScript, SshTarget } from "./remote";

/** HAProxy's stats socket: the pfSense package's, and Debian's default for a plain HAProxy. */
export const LB_STATS_SOCKET: Record<LoadBalancerKind, string> = { pfsense: "/tmp/haproxy.socket", haproxy: "/run/haproxy/admin.sock" };

/** The etcd gate: verify-etcd.sh with etcd/lib.sh (its member list parser), on the existing master. */
export function verifyEtcdScript(topology: Topology): RemoteScriptArgs {
    return verifyEtcdStep(topology.masters.map((m) => m.name), topology.existingMaster.name);
}

/** The etcd gate for the planned members, read through the etcd pod of the master it runs on. */
function verifyEtcdStep(members: readonly string[], on: string): RemoteScriptArgs {
    return { script: "cluster/verify-etcd.sh", args: ["--members", members.join(","), "--pod", `etcd-${on}`] };
}

/** The pool gate on the load balancer host: lb-pool-check.php (with the stats reader) on stdin to `php --`. */
export function lbPoolCheckStep(a: {
    kind: LoadBalancerKind;
    socket: string;
    backend: string;
    servers: readonly string[];
    timeoutSeconds: number;
}): StepSpec {
    return {
        script: "cluster/lb-pool-check.php",
        args: ["--socket", a.socket, "--backend", a.backend, "--servers", a.servers.join(","), "--timeout", String(a.timeoutSeconds)],
        // pfSense has no sudo (its admin is root-equivalent); a Linux HAProxy host's socket is root's.
        runAs: a.kind === "pfsense" ? "user" : "root",
    };
}

/** What the pool gate ships for a load balancer user (the script tests run exactly this). */
export function lbPoolCheckCommand(a: Parameters<typeof lbPoolCheckStep>[0] & { user: string }): ShippedCommand {
    return shipStep(a.user, lbPoolCheckStep(a));
}

/** The pool gate's host and what it expects there. */
export interface PoolCheck {
    readonly kind: LoadBalancerKind;
    /** The load balancer host, as SSH dials it. */
    readonly host: string;
    readonly user: string;
    /** The apiserver backend's name and every master's server name in it. */
    readonly backend: string;
    readonly servers: readonly string[];
    /** How long every server has to be UP. */
    readonly waitUpSeconds: number;
}

/** A node with a kubelet and the server its kubelet.conf must name. */
export interface KubeletCheck {
    readonly node: CutoverNode;
    readonly server: string;
}

export interface VerificationArgs {
    /** Where the etcd gate and the ConfigMap checks run, with the admin kubeconfig. */
    readonly existingMaster: StepHost;
    /** Every planned master (the existing one first): etcd's members, each one's flag parity. */
    readonly masters: readonly Pick<MasterSpec, "name" | "ip">[];
    /** The masters that joined: their flags are converged before parity is checked. */
    readonly newMasters: readonly Pick<MasterSpec, "name" | "ip">[];
    /** The SSH user on the nodes (sudo for root unless it is root). */
    readonly sshUser: string;
    /** For the nodes and the load balancer; a Pulumi secret, never shown. */
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly pool: PoolCheck;
    /** The declared flags; without them no parity gate. */
    readonly rollout?: FlagRollout;
    /** Every node with a kubelet in cut-over order, with the server it must use. */
    readonly kubelets: readonly KubeletCheck[];
    /** The VIP's URL, which kube-proxy's and cluster-info's kubeconfigs must name. */
    readonly vipServerUrl: string;
}

export class Verification extends pulumi.ComponentResource {
    readonly gates: command.remote.Command[] = [];

    constructor(name: string, args: VerificationArgs, opts?: pulumi.ComponentResourceOptions) {
        const { existingMaster, masters, pool, rollout, vipServerUrl: vip } = args;
        super(
            COMPONENT_TYPES.verification,
            name,
            {
                existingMaster: existingMaster.name,
                etcdMembers: masters.map((m) => m.name),
                pool: `${pool.kind} ${pool.host} ${pool.backend}: ${pool.servers.join(", ")}`,
                flagParity: rollout ? flagExpectations(rollout.declared) : [],
                kubelets: args.kubelets.map((k) => `${k.node.name} ${k.server}`),
                vip,
            },
            opts,
        );
        const on = (hostName: string, host: string): SshTarget => ({ name: hostName, host, user: args.sshUser, privateKey: args.sshPrivateKey });
        const existing = on(existingMaster.name, existingMaster.address);
        const child = childOf(this, opts);

        // etcd: exactly the planned members, all started voters, all healthy.
        this.gates.push(remoteScript(`${name}-etcd-members`, existing, verifyEtcdStep(masters.map((m) => m.name), existingMaster.name), child));

        // Every master in the apiserver pool and UP, as HAProxy itself reports it.
        this.gates.push(
            new RemoteStep(
                `${name}-lb-pool`,
                {
                    host: { name: pool.host, address: pool.host },
                    user: pool.user,
                    privateKey: args.sshPrivateKey,
                    ...lbPoolCheckStep({ kind: pool.kind, socket: LB_STATS_SOCKET[pool.kind], backend: pool.backend, servers: pool.servers, timeoutSeconds: pool.waitUpSeconds }),
                    // A gate: an update re-runs it (the default).
                    formerParent: this,
                },
                child,
            ).command,
        );

        // Flag parity: each master against the declared set (so with each other). Masters that
        // joined after phase 1.5 got the flags from the ClusterConfiguration; if the declared
        // values changed since, they are regenerated here first, one master at a time.
        if (rollout) {
            const expectations = flagExpectations(rollout.declared);
            let previous: pulumi.Resource | undefined;
            for (const master of args.newMasters) {
                const converge = remoteScript(
                    `${name}-${master.name}-flags`,
                    on(master.name, master.ip),
                    { script: FLAGS_SCRIPT, args: rolloutArgs("apply", rollout, master) },
                    childOf(this, opts, previous ? [previous] : []),
                );
                previous = converge;
            }
            for (const master of masters) {
                this.gates.push(
                    remoteScript(
                        `${name}-${master.name}-parity`,
                        on(master.name, master.ip),
                        { script: FLAGS_SCRIPT, args: ["check", ...expectations] },
                        childOf(this, opts, previous ? [previous] : []),
                    ),
                );
            }
        }

        // Every client path where it belongs: each worker's kubelet on the VIP, each master's on
        // its own apiserver (kubeadm's local mode, which `kubeadm upgrade` restores), kube-proxy's
        // and cluster-info's kubeconfigs on the VIP.
        for (const { node, server } of args.kubelets) {
            const check = { script: "cluster/kubeconfig-server.sh" as const, args: ["--file", KUBELET_CONF, "--check", server] };
            const gateName = node.role === "master" ? `${name}-${node.name}-kubelet-local` : `${name}-${node.name}-kubelet-vip`;
            const aliases = node.role === "master" ? [{ name: `${name}-${node.name}-kubelet-vip` }] : [];
            this.gates.push(remoteScript(gateName, on(node.name, node.host), check, { ...child, aliases }));
        }
        for (const configMap of ["kube-system/kube-proxy", "kube-public/cluster-info"]) {
            this.gates.push(
                remoteScript(
                    `${name}-${configMap.split("/")[1]}-vip`,
                    existing,
                    { script: "cluster/kubeconfig-server.sh", args: ["--configmap", configMap, "--check", vip] },
                    child,
                ),
            );
        }
        this.registerOutputs({});
    }
}
