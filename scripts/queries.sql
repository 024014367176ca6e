-- Ready queries for a certstream-arrow dataset, for DuckDB with the
-- nanoarrow community extension. Run from the directory holding `data/`:
--   duckdb < scripts/queries.sql            (all of them)
-- or paste one at a time into `duckdb`. Change 'data' if the root differs.
-- DuckDB reads Feather only through nanoarrow's read_arrow(); selecting the
-- hive column `hour` alone fails in the current extension, so each query
-- that uses it also reads a real column.

INSTALL nanoarrow FROM community;
LOAD nanoarrow;

CREATE OR REPLACE VIEW certs AS
SELECT * FROM read_arrow('data/*/*.feather', hive_partitioning = true);

-- Top issuers.
SELECT issuer_o, issuer_cn, count(*) AS certificates
FROM certs
WHERE cert_index IS NOT NULL
GROUP BY issuer_o, issuer_cn
ORDER BY certificates DESC
LIMIT 20;

-- Phishing hunting: names containing login, secure or bank.
SELECT seen, domain, issuer_o, source_name
FROM (SELECT seen, issuer_o, source_name, unnest(domains) AS domain FROM certs)
WHERE regexp_matches(domain, 'login|secure|bank')
ORDER BY seen DESC
LIMIT 100;

-- Certificates per CT log per hour.
SELECT hour, source_name, count(seen) AS certificates
FROM certs
GROUP BY hour, source_name
ORDER BY hour, certificates DESC;

-- Newest certificates for a domain and its subdomains.
SELECT seen, domain, subject_cn, issuer_o, not_after
FROM (SELECT seen, subject_cn, issuer_o, not_after, unnest(domains) AS domain FROM certs)
WHERE domain = 'example.com' OR domain LIKE '%.example.com'
ORDER BY seen DESC
LIMIT 20;

-- One certificate by its SHA-256 as crt.sh shows it (digests are stored as
-- bytes: compare with from_hex, show with hex).
SELECT seen, domains, hex(fingerprint) AS sha1, hex(sha256) AS sha256, source_name, cert_index
FROM certs
WHERE sha256 = from_hex('2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824');
