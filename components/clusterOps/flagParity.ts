/**
 * Phase 1.5, flag parity the kubeadm way: the declared apiserver and etcd flags go into the
 * ClusterConfiguration (through scripts/kubeadm/patch-cluster-config.py and kubeadm's
 * upload-config), and each master's static pods are regenerated from it by kubeadm, so a later
 * `kubeadm upgrade` keeps them. scripts/cluster/control-plane-flags.sh does both, one master at a
 * time, with a health wait and an automatic restore.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    clusterConfigurationFragment,
    clusterConfigurationRemoval,
    COMPONENT_TYPES,
    DeclaredFlags,
    declaredFlags,
    flagExpectations,
    hasDeclaredFlags,
    MasterSpec,
    Topology,
} from "@ha-control-plane/topology";
import { ScriptId, shippedText } from "../scriptManifest";
import { childOf } from "../childOptions";
import { remoteScript } from "./remote";

/** control-plane-flags.sh with what it sources and runs: issue 3's kubeadm lib and patcher. */
export const FLAGS_SCRIPT = "cluster/control-plane-flags.sh" satisfies ScriptId;

export function flagsScriptBundle(): string {
    return shippedText(FLAGS_SCRIPT);
}

/** The declared flags and how control-plane-flags.sh rolls them out. */
export interface FlagRollout {
    /** The declared apiserver and etcd flags (topology declaredFlags); never secrets. */
    readonly declared: DeclaredFlags;
    /** The apiserver's port, for the health wait after each static pod. */
    readonly apiserverPort: number;
    /** How long the script waits for each regenerated static pod to be healthy. */
    readonly healthTimeoutSeconds: number;
}

/** The rollout from the topology, or none when no flag is declared. */
export function flagRollout(topology: Topology): FlagRollout | undefined {
    const declared = declaredFlags(topology.clusterOps.controlPlaneFlags);
    if (!hasDeclaredFlags(declared)) return undefined;
    return { declared, apiserverPort: topology.cluster.apiserverPort, healthTimeoutSeconds: topology.clusterOps.controlPlaneFlags.healthTimeoutSeconds };
}

/** `apply` or `revert` arguments for one master: its identity, the document, the declared set. */
export function rolloutArgs(action: "apply" | "revert", rollout: FlagRollout, master: Pick<MasterSpec, "name" | "ip">): string[] {
    const { declared } = rollout;
    const fragment = action === "apply" ? clusterConfigurationFragment(declared) : clusterConfigurationRemoval(declared);
    return [
        action,
        "--node", master.name,
        "--advertise-address", master.ip,
        "--bind-port", String(rollout.apiserverPort),
        "--timeout", String(rollout.healthTimeoutSeconds),
        "--fragment", JSON.stringify(fragment),
        ...flagExpectations(declared),
    ];
}

/** rolloutArgs for a topology (what the script and control-plane tests run). */
export function flagsArgs(action: "apply" | "revert", topology: Topology, master: MasterSpec, declared: DeclaredFlags): string[] {
    return rolloutArgs(action, { declared, apiserverPort: topology.cluster.apiserverPort, healthTimeoutSeconds: topology.clusterOps.controlPlaneFlags.healthTimeoutSeconds }, master);
}

export interface FlagParityArgs {
    /** The existing master (the only one at phase 1.5): its name and IP (SSH and advertise address). */
    readonly master: Pick<MasterSpec, "name" | "ip">;
    /** The SSH user there (sudo for root unless it is root). */
    readonly sshUser: string;
    /** A Pulumi secret, never shown. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** What to roll out; none registers no step (nothing declared). */
    readonly rollout?: FlagRollout;
}

/**
 * On the existing master (the only one at phase 1.5; later masters get the flags from the
 * ClusterConfiguration when they join): patch kubeadm-config, regenerate etcd then the apiserver,
 * check parity. The delete takes the flags out of kubeadm-config and regenerates again. The
 * component waits for the audit policy copy (its dependsOn), so the apiserver finds the file.
 */
export class FlagParity extends pulumi.ComponentResource {
    readonly apply?: command.remote.Command;

    constructor(name: string, args: FlagParityArgs, opts?: pulumi.ComponentResourceOptions) {
        const { master, rollout } = args;
        super(COMPONENT_TYPES.flagParity, name, { master: master.name, address: master.ip, expected: rollout ? flagExpectations(rollout.declared) : [] }, opts);
        if (rollout) {
            this.apply = remoteScript(
                `${name}-${master.name}`,
                { name: master.name, host: master.ip, user: args.sshUser, privateKey: args.sshPrivateKey },
                { script: FLAGS_SCRIPT, args: rolloutArgs("apply", rollout, master), deleteArgs: rolloutArgs("revert", rollout, master) },
                childOf(this, opts),
            );
        }
        this.registerOutputs({});
    }
}
