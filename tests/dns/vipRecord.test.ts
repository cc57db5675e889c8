/**
 * scripts/dns/vip-record.sh against a real BIND 9 (Debian's named), run by the test in a temp
 * dir on a free loopback port with a dynamic zone that takes updates signed with a test TSIG key.
 */
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { Resolver } from "dns/promises";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup, waitForAnswer, withFreshPorts } from "../helpers/daemons";
import { run, ScriptResult, scriptPath } from "../loadBalancer/scriptRunner";

const SCRIPT = scriptPath("dns/vip-record.sh");
const ZONE = "lab.example";
const KEY = "ha-control-plane-test";

describe("VIP DNS record over RFC 2136 (nsupdate) against a real BIND 9", function () {
    this.timeout(30_000);
    let dir: string;
    let port: number;
    const daemons = new DaemonGroup();
    const secret = randomBytes(32).toString("base64");

    const record = (action: string, name: string, ip: string, opts: { secret?: string; key?: string; extra?: string[] } = {}): Promise<ScriptResult> =>
        run(
            "bash",
            [SCRIPT, action, "--server", "127.0.0.1", "--port", String(port), "--zone", ZONE, "--name", name, "--ip", ip, "--ttl", "60",
                "--key-name", opts.key ?? KEY, "--timeout", "5", ...(opts.extra ?? [])],
            { stdin: opts.secret ?? secret, timeoutMs: 20_000 },
        );
    const dig = async (name: string, type = "A"): Promise<string[]> => {
        const res = await run("dig", ["+short", "+time=2", "+tries=1", "-p", String(port), "@127.0.0.1", name, type]);
        assert.equal(res.code, 0, res.stderr);
        return res.stdout.split("\n").filter(Boolean).sort();
    };
    const serial = async () => (await dig(ZONE, "SOA"))[0].split(" ")[2];
    const nsupdate = (commands: string) =>
        run("nsupdate", ["-y", `hmac-sha256:${KEY}:${secret}`], { stdin: `server 127.0.0.1 ${port}\nzone ${ZONE}\n${commands}\nsend\n` });

    /** True once named answers the zone's SOA on `port` (its own answer, not another server's). */
    const answersSoa = async (): Promise<boolean> => {
        const resolver = new Resolver({ timeout: 1000, tries: 1 });
        resolver.setServers([`127.0.0.1:${port}`]);
        try {
            return (await resolver.resolveSoa(ZONE)).hostmaster === `admin.${ZONE}`;
        } catch {
            return false;
        }
    };

    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        dir = mkdtempSync(path.join(tmpdir(), "named-"));
        writeFileSync(
            path.join(dir, `${ZONE}.db`),
            `$TTL 300\n@ IN SOA ns.${ZONE}. admin.${ZONE}. 1 3600 600 86400 300\n@ IN NS ns.${ZONE}.\nns IN A 127.0.0.1\n` +
                `kubernetes IN A 10.0.20.100\nother IN A 10.0.20.7\n`,
        );
        await withFreshPorts(1, async ([candidate]) => {
            port = candidate;
            // reuseport no: a port another named holds fails the bind instead of being shared.
            writeFileSync(
                path.join(dir, "named.conf"),
                `options {
    directory "${dir}";
    listen-on port ${port} { 127.0.0.1; };
    listen-on-v6 { none; };
    reuseport no;
    pid-file "${dir}/named.pid";
    session-keyfile "${dir}/session.key";
    managed-keys-directory "${dir}";
    recursion no;
    dnssec-validation no;
};
controls { };
key "${KEY}" { algorithm hmac-sha256; secret "${secret}"; };
zone "${ZONE}" { type primary; file "${dir}/${ZONE}.db"; allow-update { key "${KEY}"; }; };
`,
            );
            const named = daemons.start("named", "named", ["-g", "-c", path.join(dir, "named.conf")]);
            try {
                await waitForAnswer(`named answering on 127.0.0.1:${port}`, [named], answersSoa);
            } catch (err) {
                await daemons.stop([named]);
                throw err;
            }
        });
    });

    after(async () => {
        await daemons.stopAll();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("adds the VIP's A record, and a second run changes nothing (still one record)", async () => {
        const first = await record("add", `k8s-apiserver.${ZONE}`, "10.0.20.99");
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, /^added k8s-apiserver\.lab\.example A 10\.0\.20\.99/);
        assert.deepEqual(await dig(`k8s-apiserver.${ZONE}`), ["10.0.20.99"]);
        const before = await serial();
        const second = await record("add", `k8s-apiserver.${ZONE}`, "10.0.20.99");
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /^unchanged: /);
        assert.deepEqual(await dig(`k8s-apiserver.${ZONE}`), ["10.0.20.99"]);
        assert.equal(await serial(), before, "no update was sent");
        for (const res of [first, second]) assert.ok(!(res.stdout + res.stderr).includes(secret), "the secret is never printed");
    });

    it("removes the stale record, and puts it back on destroy only because it removed it", async () => {
        const removed = await record("delete", `kubernetes.${ZONE}`, "10.0.20.100");
        assert.equal(removed.code, 0, removed.stderr);
        assert.match(removed.stdout, /^deleted kubernetes\.lab\.example A 10\.0\.20\.100/);
        assert.deepEqual(await dig(`kubernetes.${ZONE}`), []);
        assert.match((await record("delete", `kubernetes.${ZONE}`, "10.0.20.100")).stdout, /^absent: /);
        // An update re-runs the delete with the previous output: it still says it deleted it.
        const rerun = await record("delete", `kubernetes.${ZONE}`, "10.0.20.100", { extra: ["--previous", removed.stdout] });
        assert.match(rerun.stdout, /^deleted kubernetes\.lab\.example A 10\.0\.20\.100 \(by an earlier run/);
        // The component's destroy passes the create's output as --previous.
        const noop = await record("restore", `kubernetes.${ZONE}`, "10.0.20.100", { extra: ["--previous", "absent: kubernetes.lab.example A 10.0.20.100"] });
        assert.match(noop.stdout, /nothing to restore/);
        assert.deepEqual(await dig(`kubernetes.${ZONE}`), []);
        const restored = await record("restore", `kubernetes.${ZONE}`, "10.0.20.100", { extra: ["--previous", rerun.stdout] });
        assert.equal(restored.code, 0, restored.stderr);
        assert.deepEqual(await dig(`kubernetes.${ZONE}`), ["10.0.20.100"]);
    });

    it("refuses to add next to A records it did not set", async () => {
        const res = await record("add", `other.${ZONE}`, "10.0.20.8");
        assert.equal(res.code, 1);
        assert.match(res.stderr, /other\.lab\.example already has A 10\.0\.20\.7 .* which this stack did not set/);
        assert.deepEqual(await dig(`other.${ZONE}`), ["10.0.20.7"]);
    });

    it("with a wrong TSIG key fails clearly and leaves the zone unchanged", async () => {
        const before = await serial();
        const wrongSecret = randomBytes(32).toString("base64");
        const badSecret = await record("delete", `k8s-apiserver.${ZONE}`, "10.0.20.99", { secret: wrongSecret });
        assert.equal(badSecret.code, 1);
        assert.match(badSecret.stderr, /rejected the TSIG signature of key 'ha-control-plane-test'.*Nothing was changed/);
        assert.ok(!(badSecret.stdout + badSecret.stderr).includes(wrongSecret), "the secret is never printed");
        const badName = await record("add", `new.${ZONE}`, "10.0.20.9", { key: "not-a-key" });
        assert.equal(badName.code, 1);
        assert.match(badName.stderr, /rejected the TSIG signature of key 'not-a-key'/);
        assert.deepEqual(await dig(`k8s-apiserver.${ZONE}`), ["10.0.20.99"]);
        assert.deepEqual(await dig(`new.${ZONE}`), []);
        assert.equal(await serial(), before);
    });

    it("delete removes exactly the record it added", async () => {
        // Someone else's A record on the same name, and a record elsewhere in the zone.
        assert.equal((await nsupdate(`update add k8s-apiserver.${ZONE} 60 A 10.0.20.98`)).code, 0);
        const res = await record("delete", `k8s-apiserver.${ZONE}`, "10.0.20.99");
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /^deleted k8s-apiserver\.lab\.example A 10\.0\.20\.99/);
        assert.deepEqual(await dig(`k8s-apiserver.${ZONE}`), ["10.0.20.98"]);
        assert.deepEqual(await dig(`other.${ZONE}`), ["10.0.20.7"]);
        assert.match((await record("delete", `k8s-apiserver.${ZONE}`, "10.0.20.99")).stdout, /^absent: /);
    });

    it("reads the secret from stdin only, and refuses to run without it", async () => {
        const res = await record("add", `k8s-apiserver.${ZONE}`, "10.0.20.99", { secret: "" });
        assert.equal(res.code, 1);
        assert.match(res.stderr, /the TSIG secret must come on stdin/);
    });
});
