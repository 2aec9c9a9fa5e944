// Keep the replica set's membership in step with the StatefulSet: initiate it once (pod 0), then add
// members as the StatefulSet grows. Never removes members: scaling down is an operator decision.
const env = process.env;
const host = (i) => `${env.STATEFULSET}-${i}.${env.HEADLESS}.${env.POD_NAMESPACE}.svc.${env.CLUSTER_DOMAIN}:27017`;
const user = encodeURIComponent(env.MONGO_ROOT_USERNAME);
const password = encodeURIComponent(env.MONGO_ROOT_PASSWORD);
// TLS (TLS_CA_FILE, set while tls.mode is enabled or required): the server's certificate names 127.0.0.1 too.
const tls = env.TLS_CA_FILE ? `&tls=true&tlsCAFile=${env.TLS_CA_FILE}` : "";
db = connect(`mongodb://${user}:${password}@127.0.0.1:27017/admin?directConnection=true${tls}`);
const status = db.adminCommand({ replSetGetStatus: 1 });
if (!status.ok && status.code === 94) {
  // NotYetInitialized: this is the first start of pod 0.
  printjson(rs.initiate({ _id: env.REPLICA_SET, members: [{ _id: 0, host: host(0) }] }));
} else if (status.ok && db.hello().isWritablePrimary) {
  const members = new Set(rs.conf().members.map((m) => m.host));
  for (let i = 0; i < parseInt(env.REPLICAS, 10); i++) {
    if (!members.has(host(i))) {
      printjson(rs.add(host(i)));
      break; // one member per round: the set reconfigures between additions
    }
  }
}
