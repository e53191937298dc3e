//! `[aws]` and its environments.

use super::{check, NAME};

#[test]
fn aws_settings() {
    check(
        NAME,
        &[
            (
                r#"
[aws]
region = "eu-west-1"
compute = "fargate"
database = "aurora-postgres"
cpu = 512
memory = 1024
min = 1
max = 2
log_retention_days = 14
"#,
                &[],
            ),
            ("[aws]\nregion = \"useast1\"\n", &[(2, 10, "`useast1` is not an AWS region", Some("e.g. us-east-1, eu-west-1, ap-southeast-2"))]),
            ("[aws]\nregion = \"us-east-1a\"\n", &[(2, 10, "`us-east-1a` is not an AWS region", Some("e.g. us-east-1, eu-west-1, ap-southeast-2"))]),
            ("[aws]\ncompute = \"lamda\"\n", &[(2, 11, "unknown compute `lamda`", Some("did you mean `lambda`?"))]),
            ("[aws]\ndatabase = \"mysq\"\n", &[(2, 12, "unknown database engine `mysq`", Some("did you mean `mysql`?"))]),
            ("[aws]\nport = 0\n", &[(2, 8, "port must be between 1 and 65535", None)]),
            ("[aws]\nazs = 4\n", &[(2, 7, "azs must be between 2 and 3", None)]),
            ("[aws]\ncpu = 128\n", &[(2, 7, "cpu (Fargate CPU units) must be between 256 and 16384", None)]),
            ("[aws]\ncpu = 300\n", &[(2, 7, "Fargate cpu is one of 256, 512, 1024, 2048, 4096, 8192, 16384", None)]),
            ("[aws]\nmemory = 256\n", &[(2, 10, "memory (MiB) must be between 512 and 122880", None)]),
            ("[aws]\nmin = 0\n", &[(2, 7, "min must be between 1 and 100", None)]),
            ("[aws]\nmax = 101\n", &[(2, 7, "max must be between 1 and 100", None)]),
            ("[aws]\nmin = 3\nmax = 2\n", &[(3, 7, "max is smaller than min", None)]),
            ("[aws]\ntarget_cpu = 95\n", &[(2, 14, "target_cpu (percent) must be between 10 and 90", None)]),
            ("[aws]\ndb_storage_gb = 10\n", &[(2, 17, "db_storage_gb must be between 20 and 65536", None)]),
            ("[aws]\nlambda_memory = 64\n", &[(2, 17, "lambda_memory (MiB) must be between 128 and 10240", None)]),
            ("[aws]\nlog_retention_days = 2\n", &[(2, 22, "CloudWatch Logs does not offer that retention", Some("one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"))]),
            ("[aws]\ncertificate_arn = \"arn:aws:acm:eu-west-1:1:certificate/x\"\n", &[(2, 19, "certificate_arn is no longer used: every environment is served over HTTPS by its CloudFront distribution", Some("remove it (docs/aws.md, \"The edge\")"))]),
            ("[aws]\nweb_adapter_layer = \"arn:aws:lambda:us-east-1:1:layer:X:2\"\n", &[]),
            ("[aws]\nwaf = true\nwaf_rate_limit = 500\n", &[]),
            ("[aws]\nwaf = \"yes\"\n", &[(2, 7, "expected true or false, found the string \"yes\"", None)]),
            ("[aws]\nwaf_rate_limit = 5\n", &[(2, 18, "waf_rate_limit (requests per 5 minutes) must be between 10 and 2000000000", None)]),
            ("[aws]\nweb_adapter_layer = \"arn:aws:lambda:us-east-1:1:function:X\"\n", &[(2, 21, "web_adapter_layer must be a Lambda layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)", None)]),
        ],
    );
}

#[test]
fn aws_environments() {
    check(
        NAME,
        &[
            ("[aws.env.prod]\nmin = 2\n", &[]),
            (
                "[aws.env.Prod]\nmin = 2\n",
                &[(
                    1,
                    1,
                    "invalid environment name `Prod`",
                    Some("use 1-16 lowercase letters, digits and dashes, starting with a letter"),
                )],
            ),
            (
                "[aws.env.prod]\nmin = 0\n",
                &[(2, 7, "min must be between 1 and 100", None)],
            ),
            (
                "[aws.env.prod.env.eu]\nmin = 2\n",
                &[(1, 1, "environments cannot be nested", None)],
            ),
        ],
    );
}

#[test]
fn aws_domains() {
    const EXAMPLE: Option<&str> = Some("e.g. shop.example.com");
    check(
        NAME,
        &[
            ("[aws]\ndomain = \"shop.example.com\"\nhosted_zone_id = \"Z0123456789ABC\"\n", &[]),
            ("[aws.env.live]\ndomain = \"shop.example.com\"\n", &[]),
            ("[aws]\ndomain = \"Shop.example.com\"\n", &[(2, 10, "domain names are written in lowercase", EXAMPLE)]),
            ("[aws]\ndomain = \"localhost\"\n", &[(2, 10, "`localhost` is not a domain name", EXAMPLE)]),
            ("[aws]\ndomain = \"shop-.example.com\"\n", &[(2, 10, "`shop-.example.com` is not a domain name", EXAMPLE)]),
            ("[aws]\ndomain = \"*.example.com\"\n", &[(2, 10, "a wildcard cannot name an environment", Some("e.g. example.com"))]),
            ("[aws]\ndomain = \"a.b\"\nhosted_zone_id = \"/hostedzone/Z123\"\n", &[(3, 18, "`/hostedzone/Z123` is not a hosted zone id", Some("write the id alone: \"Z123\""))]),
            ("[aws]\nhosted_zone_id = \"Z123\"\n", &[(2, 18, "hosted_zone_id without a domain", Some("add `domain = \"shop.example.com\"` to [aws], or remove it"))]),
            ("[aws.env.live]\nhosted_zone_id = \"Z123\"\n", &[(2, 18, "environment `live` has a hosted_zone_id but no domain", Some("add `domain` beside it, or remove it"))]),
            (
                "[aws]\ndomain = \"shop.example.com\"\n\n[aws.env.live]\ndomain = \"shop.example.com\"\n",
                &[(5, 10, "environments `prod` and `live` would both use `shop.example.com`", Some("give `live` a domain of its own in [aws.env.live]"))],
            ),
            (
                // `x` would be served at x.example.com, which `dev` took.
                "[aws]\ndomain = \"example.com\"\n\n[aws.env.dev]\ndomain = \"x.example.com\"\n\n[aws.env.x]\nmin = 1\n",
                &[(2, 10, "environments `dev` and `x` would both use `x.example.com`", Some("give `x` a domain of its own in [aws.env.x]"))],
            ),
            (
                // The balancer's name of prod is taken by the `origin` environment.
                "[aws]\ndomain = \"example.com\"\n\n[aws.env.origin]\nmin = 1\n",
                &[(2, 10, "environments `prod` and `origin` would both use `origin.example.com`", Some("give `origin` a domain of its own in [aws.env.origin]"))],
            ),
            (
                // 61 characters: fits a certificate; `dev.` or `origin.` before it does not.
                "[aws]\ndomain = \"abcdefghij.abcdefghij.abcdefghij.abcdefghij.abcdefghij.abc.de\"\n",
                &[
                    (2, 10, "environment `dev` needs a certificate for `dev.abcdefghij.abcdefghij.abcdefghij.abcdefghij.abcdefghij.abc.de`, 65 characters; ACM takes at most 64", Some("give `dev` a shorter domain in [aws.env.dev]")),
                    (2, 10, "environment `prod` needs a certificate for `origin.abcdefghij.abcdefghij.abcdefghij.abcdefghij.abcdefghij.abc.de`, 68 characters; ACM takes at most 64", Some("give `prod` a shorter domain in [aws.env.prod]")),
                ],
            ),
            (
                "[aws]\ndomain = \"example.com\"\n\n[aws.env.x-]\nmin = 1\n",
                &[(2, 10, "environment `x-` would be served at `x-.example.com`, which is not a domain name", Some("give `x-` a domain of its own in [aws.env.x-]"))],
            ),
        ],
    );
}
