/**
 * Phase 5: the kured sentinel gate refuses a reboot that would cost the control plane its
 * quorum. The kured stack's gate DaemonSet mounts this ConfigMap and runs
 * kured-sentinel-gate.sh; the figures in gate.env come from the topology (quorumOf), so the
 * script holds no count of its own.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, ControlPlaneGateFigures, GATE_ENV_MEMBERS, GATE_ENV_QUORUM, KURED_GATE_ENV_FILE, KuredGateConfig } from "@ha-control-plane/topology";
import { childOf, providerFromOptions } from "../childOptions";
import { bindGate, gateRoles } from "./gateAccess";
import { scriptsConfigMap } from "./kubernetes";

export const KURED_GATE_CONFIGMAP = "kured-control-plane-gate";

export interface KuredGateArgs {
    /** The stack's name, on every object's labels. */
    readonly stack: string;
    /** The planned control plane's size and quorum (topology controlPlaneGateFigures), for gate.env. */
    readonly figures: ControlPlaneGateFigures;
    /** The etcd static pods of the masters (etcd-<master>), the only pods the gate may exec into. */
    readonly etcdPods: readonly string[];
    /** Where kured runs, its gate's service account and how often the gate checks. */
    readonly kured: KuredGateConfig;
}

/** Options: `provider` (or `providers`) must carry the stack's Kubernetes provider. */
export class KuredGate extends pulumi.ComponentResource {
    readonly configMap: k8s.core.v1.ConfigMap;

    constructor(name: string, args: KuredGateArgs, opts?: pulumi.ComponentResourceOptions) {
        const { stack, figures, etcdPods, kured } = args;
        super(
            COMPONENT_TYPES.kuredGate,
            name,
            { stack, namespace: kured.namespace, serviceAccount: kured.serviceAccount, members: figures.members, quorum: figures.quorum, etcdPods: [...etcdPods], checkIntervalSeconds: kured.checkIntervalSeconds },
            opts,
        );
        const provider = providerFromOptions(COMPONENT_TYPES.kuredGate, opts, k8s.Provider);
        const child = childOf(this, opts, [], { provider });

        this.configMap = scriptsConfigMap(
            `${name}-scripts`,
            stack,
            {
                name: KURED_GATE_CONFIGMAP,
                namespace: kured.namespace,
                scripts: ["kured-sentinel-gate.sh", "quorum-gate.sh"],
                env: {
                    file: KURED_GATE_ENV_FILE,
                    values: { [GATE_ENV_MEMBERS]: figures.members, [GATE_ENV_QUORUM]: figures.quorum, CHECK_INTERVAL_SECONDS: kured.checkIntervalSeconds },
                },
            },
            child,
        );
        const roles = gateRoles(name, { stack, etcdPods }, child);
        bindGate(name, stack, { namespace: kured.namespace, name: kured.serviceAccount }, childOf(this, opts, roles, { provider }));
        this.registerOutputs({ members: figures.members, quorum: figures.quorum });
    }
}
