import { strict as assert } from "assert";
import { secretsStaySecret } from "../../policies/secrets";
import { COMPONENT_TYPES as T } from "@ha-control-plane/topology";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab } from "../helpers/program";
import { component, resource, violationsOf } from "../helpers/policy";

const CMD = "command:remote:Command";
const TOKEN = "abc123.0123456789abcdef";

/** A join: its stdin built from a random secret (a property dependency), logging nothing, outputs secret. */
function join(patch: Partial<RecordedResource> = {}, inputs: Record<string, unknown> = {}): RecordedResource[] {
    const secret = resource("random:index/randomPassword:RandomPassword", "k8s-master-2-token-secret", { length: 16 });
    const cmd = resource(
        CMD,
        "k8s-master-2-join",
        { create: "sudo -n bash -s -- --endpoint 10.0.20.99:6443", stdin: "#!/usr/bin/env bash\nexport KUBEADM_TOKEN='[secret]'", logging: "none", ...(inputs as Record<string, string>) },
        { dependencies: [secret.urn], propertyDependencies: { stdin: [secret.urn] }, additionalSecretOutputs: ["stdout", "stderr"], ...patch },
    );
    return [secret, cmd];
}

/** The VIP's DNS record: the TSIG secret from the config on stdin. */
function dnsRecord(logging = "none", secretOutputs = ["stdout", "stderr"]): RecordedResource[] {
    const parent = component(T.apiserverDnsRecord, "apiserver-dns");
    return [parent, resource("command:local:Command", "apiserver-dns-a", { create: "bash scripts/dns/vip-record.sh add --key-name ha-control-plane", stdin: "c2VjcmV0", logging }, { parent: parent.urn, additionalSecretOutputs: secretOutputs })];
}

describe("policy secrets-stay-secret", () => {
    it("is mandatory", () => assert.equal(secretsStaySecret.enforcementLevel, "mandatory"));

    it("passes a join carrying its token on stdin, logging nothing, outputs secret; and the DNS record likewise", async () => {
        assert.deepEqual(await violationsOf(secretsStaySecret, join()), []);
        assert.deepEqual(await violationsOf(secretsStaySecret, dnsRecord()), []);
    });

    it("refuses a command carrying a secret that logs its output", async () => {
        const [v] = await violationsOf(secretsStaySecret, join({}, { logging: "stdoutAndStderr" }));
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /k8s-master-2-join carries secret output of k8s-master-2-token-secret but logs its output \(logging: stdoutAndStderr\)/);
    });

    it("refuses one whose stdout is not secret", async () => {
        const [v] = await violationsOf(secretsStaySecret, join({ additionalSecretOutputs: ["stderr"] }));
        assert.match(v.message, /its stdout is not secret: add them to additionalSecretOutputs/);
    });

    it("refuses a secret built into the command line (a property dependency of `create`)", async () => {
        const [secret, cmd] = join();
        const [v] = await violationsOf(secretsStaySecret, [secret, { ...cmd, propertyDependencies: { stdin: [secret.urn], create: [secret.urn] } }]);
        assert.match(v.message, /its input `create` is built from the secret output of k8s-master-2-token-secret; that input is shown in plain text/);
    });

    it("refuses a token in plain text on a command line, and a private key in ConfigMap data", async () => {
        const [v] = await violationsOf(secretsStaySecret, join({}, { create: `kubeadm join 10.0.20.99:6443 --token ${TOKEN}` }));
        assert.match(v.message, /its input `create` holds a kubeadm bootstrap token in plain text/);
        const cm = resource("kubernetes:core/v1:ConfigMap", "leaky", { data: { "id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----" } });
        const [k] = await violationsOf(secretsStaySecret, [cm]);
        assert.match(k.message, /leaky: its input `data` holds a private key in plain text/);
    });

    it("refuses the DNS record's command (it carries the TSIG secret) when it logs, or keeps its output in clear", async () => {
        const [v] = await violationsOf(secretsStaySecret, dnsRecord("stdoutAndStderr"));
        assert.match(v.message, /apiserver-dns-a carries the TSIG secret but logs its output/);
        const [w] = await violationsOf(secretsStaySecret, dnsRecord("none", []));
        assert.match(w.message, /its stdout and stderr are not secret/);
    });

    it("on the lab's recorded graph (phase 7): the join material, the joins and the DNS commands comply; a logging join is refused", async () => {
        const { resources } = await cachedLab("7");
        assert.deepEqual(await violationsOf(secretsStaySecret, resources), []);
        const noisy = resources.map((r) => (r.name === "k8s-master-2-join" ? { ...r, inputs: { ...r.inputs, logging: "stdoutAndStderr" } } : r));
        const [v, ...rest] = await violationsOf(secretsStaySecret, noisy);
        assert.equal(rest.length, 0);
        assert.match(v.message, /^k8s-master-2-join carries secret output of k8s-master-2-token-secret, k8s-master-2-certificate-key, k8s-master-2-join-material but logs its output/);
    });
});
