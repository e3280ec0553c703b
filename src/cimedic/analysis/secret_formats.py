"""Secret formats for :mod:`cimedic.analysis.redact` (data, no code): vendor token formats
(:data:`VENDOR_PATTERNS`: ``(kind, anchors, regex)``) and passwords given on a command line
(:data:`COMMAND_PATTERNS`: ``(kind, anchors, compiled pattern, value group)``), each with its
source in a comment. Kinds name the ``[REDACTED:<kind>]`` marker; where detect-secrets has a
plugin for the same vendor its name is used (``gitlab_token``, ``openai_token``,
``stripe_access_key``, ``slack_token``). Pure constants."""

from __future__ import annotations

import re

__all__ = ["COMMAND_PATTERNS", "VENDOR_PATTERNS"]

# Vendor token formats (kind, anchors, regex), after gitleaks' rules (gitleaks/gitleaks,
# ``cmd/generate/config/rules/<file>.go``, MIT; the file is named in each comment) and the
# vendors' documentation. A pattern runs only when one of its ``anchors`` (a literal every match
# holds) is found in the runs of 16+ token characters of the text (``redact._VENDOR_RUN``): an
# ordinary log holds none, so none of these regexes scans it; checking the anchors in the runs
# costs half as much as checking them in the whole text (measured on 8.6 MB of CiDiff logs).
VENDOR_PATTERNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # gitlab.go; docs.gitlab.com "Token prefixes": personal/deploy/runner/feed/SCIM/feature-flag
    # /job/incoming-mail/agent/OAuth/trigger tokens, routable forms with a ".xx..." suffix.
    (
        "gitlab_token",
        (
            "glpat-",
            "gldt-",
            "glrt-",
            "glft-",
            "glsoat-",
            "glffct-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glptt-",
        ),
        r"\b(?:glpat|gldt|glrt|glft|glsoat|glffct|glcbt|glimt|glagent|gloas|glptt)-[0-9A-Za-z_-]{20,300}"
        r"(?:\.[0-9a-z]{9})?",
    ),
    ("gitlab_token", ("GR1348941",), r"\bGR1348941[0-9A-Za-z_-]{20,}"),
    ("gitlab_token", ("_gitlab_session=",), r"(?<=_gitlab_session=)[0-9a-z]{32}"),
    # openai.go: project, service-account and admin keys, and legacy keys holding "T3BlbkFJ"
    (
        "openai_token",
        ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"),
        r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}",
    ),
    ("openai_token", ("T3BlbkFJ",), r"\bsk-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
    ("anthropic_key", ("sk-ant-",), r"\bsk-ant-[a-z]+\d*-[A-Za-z0-9_-]{80,}"),  # anthropic.go
    ("huggingface_token", ("hf_",), r"\bhf_[A-Za-z]{34}\b"),  # huggingface.go
    ("groq_key", ("gsk_",), r"\bgsk_[A-Za-z0-9]{52}\b"),  # groq.go
    ("perplexity_key", ("pplx-",), r"\bpplx-[A-Za-z0-9]{48}\b"),  # perplexity.go
    ("langsmith_key", ("lsv2_",), r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b"),  # langsmith.go
    # Docker Hub personal / organisation access tokens (docs.docker.com "Access tokens")
    ("docker_hub_token", ("dckr_pat_", "dckr_oat_"), r"\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}"),
    # hashicorp.go (Terraform Cloud "atlasv1"), hashicorp_vault.go (service/batch tokens)
    ("terraform_token", (".atlasv1.",), r"\b[a-zA-Z0-9]{14}\.atlasv1\.[a-zA-Z0-9_=-]{60,70}"),
    ("vault_token", ("hvs.", "hvb."), r"\bhv[sb]\.[A-Za-z0-9_-]{90,300}"),
    ("digitalocean_token", ("_v1_",), r"\bdo[opr]_v1_[a-f0-9]{64}\b"),  # digitalocean.go
    ("heroku_key", ("HRKU-",), r"\bHRKU-AA[0-9a-zA-Z_-]{58}"),  # heroku.go (new format)
    (
        "shopify_token",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
        r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
    ),  # shopify.go
    ("atlassian_token", ("ATATT3", "ATCTT3"), r"\bAT[AC]TT3[A-Za-z0-9_=-]{150,}"),  # atlassian.go
    (
        "doppler_token",
        ("dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."),
        r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,50}",
    ),  # doppler.go
    ("databricks_token", ("dapi",), r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),  # databricks.go
    (
        "newrelic_key",
        ("NRAK-", "NRII-", "NRJS-"),
        r"\bNR(?:AK|II)-[A-Za-z0-9]{27}\b|\bNRJS-[a-f0-9]{19}\b",
    ),  # newrelic.go
    (
        "sentry_token",
        ("sntrys_", "sntryu_"),
        r"\bsntrys_eyJ[A-Za-z0-9+/=_-]{60,}|\bsntryu_[a-f0-9]{64}\b",
    ),  # sentry.go
    ("postman_key", ("PMAK-",), r"\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b"),  # postman.go
    ("linear_key", ("lin_api_",), r"\blin_api_[A-Za-z0-9]{40}\b"),  # linear.go
    (
        "grafana_token",
        ("glc_", "glsa_", "eyJrIjoi"),
        r"\bglc_[A-Za-z0-9+/]{32,400}={0,2}|\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b|\beyJrIjoi[A-Za-z0-9]{70,400}={0,2}",
    ),  # grafana.go
    ("pulumi_token", ("pul-",), r"\bpul-[a-f0-9]{40}\b"),  # pulumi.go
    (
        "flyio_token",
        ("fo1_", "fm1a_", "fm1r_", "fm2_"),
        r"\bfo1_[A-Za-z0-9_-]{43}|\bfm(?:1[ar]|2)_[A-Za-z0-9+/=_-]{50,}",
    ),  # flyio.go
    (
        "stripe_access_key",
        ("k_live_", "k_test_", "k_prod_"),
        r"\b[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,99}\b",
    ),  # stripe.go
    (
        "slack_token",
        ("xapp-", "xoxe"),
        r"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+|\bxoxe(?:\.xox[bp])?-\d-[A-Z0-9]{140,}",
    ),  # slack.go
    ("rubygems_key", ("rubygems_",), r"\brubygems_[a-f0-9]{48}\b"),  # rubygems.go
    ("nuget_key", ("oy2",), r"\boy2[a-z0-9]{43}\b"),  # nuget.go
    ("clojars_token", ("CLOJARS_",), r"\bCLOJARS_[A-Za-z0-9]{60}\b"),  # clojars.go
    ("alibaba_key", ("LTAI",), r"\bLTAI[A-Za-z0-9]{20}\b"),  # alibaba.go
    (
        "age_secret_key",
        ("AGE-SECRET-KEY-1",),
        r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    ),  # age.go
    ("dynatrace_token", ("dt0c01.",), r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}\b"),  # dynatrace.go
    ("easypost_key", ("EZAK", "EZTK"), r"\bEZ[AT]K[A-Za-z0-9]{54}\b"),  # easypost.go
    (
        "flutterwave_key",
        ("FLWSECK", "FLWPUBK"),
        r"\bFLW(?:SEC|PUB)K(?:_TEST)?-[a-h0-9]{32}-X",
    ),  # flutterwave.go
    ("frameio_token", ("fio-u-",), r"\bfio-u-[A-Za-z0-9_=-]{64}"),  # frameio.go
    (
        "planetscale_token",
        ("pscale_",),
        r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{32,64}",
    ),  # planetscale.go
    ("prefect_token", ("pnu_",), r"\bpnu_[A-Za-z0-9]{36}\b"),  # prefect.go
    ("readme_key", ("rdme_",), r"\brdme_[a-z0-9]{70}\b"),  # readme.go
    (
        "sourcegraph_token",
        ("sgp_",),
        r"\bsgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}\b",
    ),  # sourcegraph.go
    (
        "square_token",
        ("sq0atp-", "EAAA"),
        r"\bsq0atp-[A-Za-z0-9_-]{22}\b|\bEAAA[A-Za-z0-9_-]{60}\b",
    ),  # square.go
    ("typeform_token", ("tfp_",), r"\btfp_[A-Za-z0-9_.=-]{59}"),  # typeform.go
    ("onepassword_token", ("ops_eyJ",), r"\bops_eyJ[A-Za-z0-9+/]{250,}={0,3}"),  # 1password.go
    (
        "onepassword_secret_key",
        ("A3-",),
        r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
    ),  # 1password.go
    (
        "azure_ad_client_secret",
        ("Q~",),
        r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
    ),  # azure.go
    (
        "azure_devops_pat",
        ("AZDO",),
        r"\b[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}\b",
    ),  # Azure DevOps PAT (84 characters, "AZDO" at 76)
    ("openshift_token", ("sha256~",), r"\bsha256~[A-Za-z0-9_-]{43}"),  # openshift.go
    ("octopus_key", ("API-",), r"\bAPI-[A-Z0-9]{26}\b"),  # octopusdeploy.go
    (
        "notion_token",
        ("ntn_", "secret_"),
        r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b|\bsecret_[A-Za-z0-9]{43}\b",
    ),  # notion.go
    (
        "supabase_key",
        ("sbp_", "sb_secret_"),
        r"\bsbp_[a-f0-9]{40}\b|\bsb_secret_[A-Za-z0-9_-]{31,}",
    ),  # Supabase docs "API keys"
    ("cloudflare_origin_ca_key", ("v1.0-",), r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b"),  # cloudflare.go
    (
        "harness_token",
        ("pat.", "sat."),
        r"\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}\b",
    ),  # harness.go
    ("infracost_key", ("ico-",), r"\bico-[A-Za-z0-9]{32}\b"),  # infracost.go
    ("mapbox_token", ("sk.eyJ",), r"\bsk\.eyJ[A-Za-z0-9._-]{80,}"),  # mapbox.go (secret tokens)
    ("twitter_bearer_token", ("AAAAAAAAAAAAAAAAAAAAA",), r"\bA{22}[A-Za-z0-9%]{80,100}"),  # twitter.go
    ("facebook_token", ("EAAC", "EAAM"), r"\bEAA[MC][A-Za-z0-9]{100,}"),  # facebook.go
    (
        "artifactory_token",
        ("AKCp", "cmVmdGtu"),
        r"\bAKCp[A-Za-z0-9]{69}\b|\bcmVmdGtu[A-Za-z0-9]{56}\b",
    ),  # artifactory.go
    ("duffel_token", ("duffel_",), r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}"),  # duffel.go
    ("brevo_key", ("xkeysib-",), r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b"),  # sendinblue.go
    (
        "settlemint_token",
        ("sm_pat_", "sm_aat_", "sm_sat_"),
        r"\bsm_(?:pat|aat|sat)_[A-Za-z0-9]{16}\b",
    ),  # settlemint.go
    ("sonarqube_token", ("squ_", "sqp_", "sqa_"), r"\bsq[upa]_[a-f0-9]{40}\b"),  # sonar.go
    ("scalingo_token", ("tk-us-",), r"\btk-us-[A-Za-z0-9_-]{48}"),  # scalingo.go
    ("shippo_token", ("shippo_",), r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b"),  # shippo.go
    ("intra42_secret", ("s-s4t2",), r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b"),  # intra42.go
    (
        "defined_networking_key",
        ("dnkey-",),
        r"\bdnkey-[A-Za-z0-9=_-]{26}-[A-Za-z0-9=_-]{52}",
    ),  # definednetworking.go
)

# Passwords given on a command line (kind, anchors, pattern, group): run only when one of the
# ``anchors`` is in the text (an ordinary log runs none of them); only ``group`` is replaced.
COMMAND_PATTERNS: tuple[tuple[str, tuple[str, ...], re.Pattern[str], int], ...] = (
    # ``docker login -p SECRET`` (also podman, buildah, skopeo, oras, nerdctl, helm registry):
    # ``-p``/``--password`` take the password as the next argument (docs.docker.com,
    # "docker login": "--password, -p  Password or Personal Access Token").
    (
        "password",
        ("login",),
        re.compile(
            r"(\b(?:docker|podman|buildah|skopeo|oras|nerdctl|helm registry)\s+login\b[^\n]*?\s"
            r"(?:-p|--password)(?:\s+|=)[\"']?)(?![$*<%{\[-])([^\s\"']{4,})"
        ),
        2,
    ),
    # ``mysql -pSECRET``: MySQL's client takes the password glued to ``-p`` ("-p password" with
    # a space prompts and reads "password" as a database name: MySQL 8.0 Reference Manual,
    # 6.2.1 "Command Options for Connecting to the Server", --password).
    (
        "password",
        ("mysql", "mariadb"),
        re.compile(
            r"(\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlsh|mariadb|mariadb-dump)\b"
            r"[^\n]*?\s-p[\"']?)(?![$*<%{\[\s\"'])([^\s\"']{4,})"
        ),
        2,
    ),
    # ``sshpass -p SECRET`` (sshpass(1): "-p password  The password is given on the command line")
    ("password", ("sshpass",), re.compile(r"(\bsshpass\s+-p\s*[\"']?)(?![$*<%{\[-])([^\s\"']{4,})"), 2),
    # ``curl -u user:SECRET`` (curl(1) --user <user:password>; gitleaks curl.go)
    (
        "password",
        ("curl",),
        re.compile(r"(\bcurl\b[^\n]*?\s(?:-u|--user)\s*[\"']?[^\s:\"']+:)(?![$*<%{\[])([^\s\"']{4,})"),
        2,
    ),
)
