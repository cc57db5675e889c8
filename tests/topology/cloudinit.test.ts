import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { scriptText } from "../../components/scriptFile";
import { renderMasterUserData } from "../../components/shipping/userData";
import { recordLab } from "../helpers/program";

const SNIPPET = "proxmoxve:index/fileLegacy:FileLegacy";

async function labUserData(): Promise<string[]> {
    const { resources } = await recordLab("3");
    return resources
        .filter((r) => r.type === SNIPPET)
        .map((r) => (r.inputs.sourceRaw as { data: string }).data);
}

describe("master user-data (cloud-init)", () => {
    let dir: string;
    before(() => {
        dir = mkdtempSync(path.join(tmpdir(), "hacp-cloudinit-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("passes `cloud-init schema` (Debian's cloud-init) for every new master", async function () {
        const userData = await labUserData();
        assert.equal(userData.length, 2);
        for (const [i, text] of userData.entries()) {
            const file = path.join(dir, `user-data-${i}.yaml`);
            writeFileSync(file, text);
            const run = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", timeout: 60_000 });
            assert.equal(run.status, 0, `cloud-init schema refused user-data ${i}:\n${run.stdout}\n${run.stderr}`);
            assert.match(run.stdout + run.stderr, /Valid (schema|cloud-config)/i);
        }
    });

    it("prepares kubeadm from the v1.34 channel, pinned to the stack's version, and never joins", async () => {
        const [text] = await labUserData();
        assert.ok(text.startsWith("#cloud-config\n"));
        const doc = parse(text) as Record<string, any>;
        assert.equal(doc.hostname, "k8s-master-2");
        assert.equal(doc.fqdn, "k8s-master-2.viktorbarzin.lan");
        assert.deepEqual(doc.runcmd[1], ["bash", "/usr/local/sbin/k8s-node-prepare.sh", "1.34.8"]);
        const script: string = doc.write_files[0].content;
        assert.equal(script, scriptText("cloud-init/k8s-node-prepare.sh"));
        assert.match(script, /core:\/stable:\/\$\{channel\}\/deb\//);
        assert.match(script, /apt-mark hold kubelet kubeadm kubectl/);
        assert.match(script, /SystemdCgroup = true/);
        assert.match(script, /swapoff -a/);
        assert.match(script, /br_netfilter/);
        assert.match(script, /net\.ipv4\.ip_forward = 1/);
        assert.ok(!/kubeadm\s+join/.test(JSON.stringify(doc.runcmd)), "a master's user-data never runs kubeadm join");
        assert.ok(!/^\s*kubeadm\s+join/m.test(script), "the prepare script never runs kubeadm join");
        assert.equal(doc.users[0].name, "wizard");
        assert.match(doc.users[0].ssh_authorized_keys[0], /^ssh-ed25519 /);
    });

    it("derives the apt channel from kubernetesVersion (v1.35 for 1.35.1)", () => {
        const text = renderMasterUserData({
            hostname: "m",
            domain: "lab.example",
            user: "u",
            publicKey: "ssh-ed25519 AAAA u@h",
            kubernetesVersion: "1.35.1",
            prepareScript: "#!/bin/bash\n",
        });
        assert.deepEqual((parse(text) as Record<string, any>).runcmd[1], ["bash", "/usr/local/sbin/k8s-node-prepare.sh", "1.35.1"]);
        // The script maps the version to its channel; check that mapping by running its parser.
        const out = execFileSync("bash", ["-c", 'v=1.35.1; [[ $v =~ ^([0-9]+)\\.([0-9]+)\\.([0-9]+)$ ]] && echo "v${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"'], { encoding: "utf8" });
        assert.equal(out.trim(), "v1.35");
    });

    it("the prepare script refuses a malformed version before touching anything", () => {
        const run = spawnSync("bash", [path.join(__dirname, "../../scripts/cloud-init/k8s-node-prepare.sh"), "v1.34"], { encoding: "utf8" });
        assert.equal(run.status, 1);
        assert.match(run.stderr, /MAJOR\.MINOR\.PATCH/);
    });
});
