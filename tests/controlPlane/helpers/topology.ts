/**
 * The lab stack's topology moved onto the test network: the same masters (names, roles), config
 * and figures, with the control plane's addresses (tests/helpers/controlPlane) in place of the
 * lab's 10.0.20.x, so the command lines the program builds point at hosts that exist here.
 */
import { loadTopology, Topology } from "../../../topology";
import { hostAddress } from "../../helpers/controlPlane/hosts";
import { masterAddress, TEST_VIP } from "../../helpers/controlPlane/controlPlane";
import { labConfig } from "../../helpers/program";

export type RawEdit = (raw: Record<string, any>) => void;

export function testTopology(targetPhase = "7", edit?: RawEdit): Topology {
    const raw = JSON.parse(JSON.stringify(labConfig(targetPhase).raw)) as Record<string, any>;
    raw.cluster = { ...raw.cluster, subnet: `${hostAddress(0)}/24`, gateway: hostAddress(1), vip: TEST_VIP, metallbPool: `${hostAddress(200)}-${hostAddress(220)}`, dnsServers: [hostAddress(1)] };
    raw.masters = (raw.masters as Record<string, unknown>[]).map((m, i) => ({ ...m, ip: masterAddress(i) }));
    raw.loadBalancer = { ...raw.loadBalancer, host: hostAddress(1) };
    raw.dns = { ...raw.dns, server: hostAddress(1), staleRecords: [] };
    // Phase 4.5's backups land on every master's NFS mount in the lab; a host path here.
    raw.etcdMaintenance = { ...(raw.etcdMaintenance ?? {}), backup: { ...(raw.etcdMaintenance?.backup ?? {}), hostPath: "/srv/etcd-backup", nfs: undefined } };
    raw.kubernetesAccess = { ...(raw.kubernetesAccess ?? {}), kubeconfig: "[set by the test]" };
    edit?.(raw);
    return loadTopology(raw, { project: "ha-control-plane", stack: "lab" });
}
