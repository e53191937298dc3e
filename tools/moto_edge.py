"""Section 8 of tools/moto_serial.py (sites, sign-in, the edge), and ACM:
the CloudFormation models moto lacks for AWS::CloudFront::*,
AWS::WAFv2::WebACL, AWS::Cognito::UserPool and ::UserPoolClient, and
AWS::CertificateManager::Certificate. Imported by moto_serial.py, which
documents the first ones.

A certificate is requested through moto's acm backend (ListCertificates and
DescribeCertificate show it in its region). With DNS validation and a
HostedZoneId, CloudFormation writes the validation record in that zone
itself and waits until ACM has issued the certificate; the model does the
same: it writes the CNAME that DescribeCertificate names into the zone
through moto's route53 backend (a zone that does not exist fails the
resource, as it fails CloudFormation), then marks the certificate issued.
Deleting the certificate leaves the validation record, as CloudFormation
does (ACM reuses one record for every certificate of the same name).
"""

import copy
import uuid

from moto.acm.models import acm_backends
from moto.cloudfront import models as cloudfront
from moto.cognitoidp.exceptions import InvalidParameterException
from moto.cognitoidp.models import CognitoIdpBackend, cognitoidp_backends
from moto.core.common_models import CloudFormationModel
from moto.route53.models import route53_backends
from moto.utilities.utils import get_partition
from moto.wafv2.models import GLOBAL_REGION as WAF_GLOBAL, wafv2_backends

from moto_model import MODULE as _MODULE, Model as _Model, absent as _absent


def _cloudfront(account_id, region_name):
    # CloudFront is global: moto keeps one backend per partition.
    return cloudfront.cloudfront_backends[account_id][get_partition(region_name)]


def _wrapped(items):
    """A list as the CloudFront API writes it."""
    return {"Quantity": len(items), "Items": items}


def _distribution_config(p, caller_reference):
    """A template's DistributionConfig as the API (and moto) takes it."""
    c = copy.deepcopy(p)
    c["CallerReference"] = caller_reference
    if "IPV6Enabled" in c:
        c["IsIPV6Enabled"] = c.pop("IPV6Enabled")
    for key in ("Aliases", "Origins", "CacheBehaviors", "CustomErrorResponses"):
        if isinstance(c.get(key), list):
            c[key] = _wrapped(c[key])
    for behaviour in [c.get("DefaultCacheBehavior", {})] + (c.get("CacheBehaviors") or {}).get("Items", []):
        methods = behaviour.get("AllowedMethods")
        if isinstance(methods, list):
            cached = behaviour.pop("CachedMethods", ["GET", "HEAD"])
            behaviour["AllowedMethods"] = dict(_wrapped(methods), CachedMethods=_wrapped(cached))
    for origin in c["Origins"]["Items"]:
        custom = origin.get("CustomOriginConfig")
        if custom and isinstance(custom.get("OriginSSLProtocols"), list):
            custom["OriginSslProtocols"] = _wrapped(custom.pop("OriginSSLProtocols"))
        if isinstance(origin.get("OriginCustomHeaders"), list):
            origin["CustomHeaders"] = _wrapped(origin.pop("OriginCustomHeaders"))
    viewer = c.get("ViewerCertificate")
    if isinstance(viewer, dict) and "AcmCertificateArn" in viewer:
        # The API's spelling; a custom certificate replaces the default one.
        c["ViewerCertificate"] = {
            "ACMCertificateArn": viewer["AcmCertificateArn"],
            "SSLSupportMethod": viewer.get("SslSupportMethod"),
            "MinimumProtocolVersion": viewer.get("MinimumProtocolVersion"),
            "CloudFrontDefaultCertificate": False,
        }
    if isinstance(c.get("Logging"), dict):
        # A template's Logging has no Enabled: present means on.
        c["Logging"] = dict(c["Logging"], Enabled=True)
    return c


_origin_init = cloudfront.Origin.__init__


def origin_init(self, origin):
    _origin_init(self, origin)
    # moto drops it; GetDistribution answers it (an origin's access control).
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


cloudfront.Origin.__init__ = origin_init


class OriginAccessControlModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    ATTRS = {"Id": "id"}

    def __init__(self, control, props):
        self.control, self.props, self.id = control, props, control.id

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudFront::OriginAccessControl"

    @property
    def physical_resource_id(self):
        return self.id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        control = _cloudfront(account_id, region_name).create_origin_access_control(
            dict(p["OriginAccessControlConfig"]))
        return cls(control, p)

    def modify(self, p):
        self.control.update(dict(p["OriginAccessControlConfig"]))

    def delete(self, account_id, region_name):
        _cloudfront(account_id, region_name).origin_access_controls.pop(self.id, None)


class DistributionModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    ATTRS = {"Id": "id", "DomainName": "domain_name"}

    def __init__(self, distribution, props, account_id, region_name):
        self.distribution, self.props = distribution, props
        self.id, self.domain_name = distribution.distribution_id, distribution.domain_name
        self.account_id, self.region_name = account_id, region_name

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudFront::Distribution"

    @property
    def physical_resource_id(self):
        return self.id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        config = _distribution_config(p["DistributionConfig"], f"{resource_name}-{uuid.uuid4()}")
        tags = p.get("Tags") or []
        distribution, _, _ = _cloudfront(account_id, region_name).create_distribution(config, tags)
        return cls(distribution, p, account_id, region_name)

    def modify(self, p):
        reference = self.distribution.distribution_config.caller_reference
        _cloudfront(self.account_id, self.region_name).update_distribution(
            _distribution_config(p["DistributionConfig"], reference), self.id, True)

    def delete(self, account_id, region_name):
        # CloudFormation disables the distribution, waits, then deletes it;
        # moto deletes an enabled one, so it is deleted directly.
        backend = _cloudfront(account_id, region_name)
        if self.id in backend.distributions:
            backend.delete_distribution(self.id, True)


class FunctionModel(_Model, CloudFormationModel):
    """AWS::CloudFront::Function through moto's cloudfront backend (so
    ListFunctions shows it): Ref and GetAtt FunctionARN are its ARN."""
    __module__ = _MODULE
    ATTRS = {"FunctionARN": "arn"}
    REPLACE_ON = ("Name",)

    def __init__(self, function, props, account_id, region_name):
        self.function, self.props, self.arn = function, props, function.arn
        self.name, self.account_id, self.region_name = function.name, account_id, region_name

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudFront::Function"

    @property
    def physical_resource_id(self):
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        function = _cloudfront(account_id, region_name).create_function(
            p["Name"], dict(p.get("FunctionConfig") or {}), p["FunctionCode"].encode(), [])
        if p.get("AutoPublish"):
            function.stage, function.status = "LIVE", "DEPLOYED"
        return cls(function, p, account_id, region_name)

    def modify(self, p):
        self.function.config = dict(p.get("FunctionConfig") or {})
        self.function.code = p["FunctionCode"].encode()

    def delete(self, account_id, region_name):
        backend = _cloudfront(account_id, region_name)
        if self.name in backend.functions:
            backend.delete_function(self.name, True)


class WebAclModel(_Model, CloudFormationModel):
    """AWS::WAFv2::WebACL through moto's wafv2 backend (so ListWebACLs shows
    it; a CLOUDFRONT one in the global backend, as WAF keeps it): Ref is
    `name|id|scope`, GetAtt Arn and Id as CloudFormation documents."""
    __module__ = _MODULE
    ATTRS = {"Arn": "arn", "Id": "id"}
    REPLACE_ON = ("Name", "Scope")

    def __init__(self, acl, props, account_id, region_name):
        self.acl, self.props, self.arn, self.id = acl, props, acl.arn, acl.id
        self.account_id, self.region_name = account_id, region_name

    @staticmethod
    def cloudformation_type():
        return "AWS::WAFv2::WebACL"

    @property
    def physical_resource_id(self):
        return f"{self.acl.name}|{self.id}|{self.props['Scope']}"

    @staticmethod
    def _backend(account_id, region_name, scope):
        return wafv2_backends[account_id][WAF_GLOBAL if scope == "CLOUDFRONT" else region_name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        acl = cls._backend(account_id, region_name, p["Scope"]).create_web_acl(
            p["Name"], p["VisibilityConfig"], p["DefaultAction"], p["Scope"], p.get("Description", ""),
            p.get("Tags") or [], p.get("Rules") or [], None, None, None, None, None)
        return cls(acl, p, account_id, region_name)

    def modify(self, p):
        backend = self._backend(self.account_id, self.region_name, p["Scope"])
        backend.update_web_acl(self.acl.name, self.id, p["DefaultAction"], p.get("Rules") or [],
                               p.get("Description", ""), p["VisibilityConfig"], self.acl.lock_token,
                               None, None, None, None, None)

    def delete(self, account_id, region_name):
        backend = self._backend(account_id, region_name, self.props["Scope"])
        if self.arn in backend.wacls:
            backend.delete_web_acl(self.acl.name, self.props["Scope"], self.id, self.acl.lock_token)


def _cognito(account_id, region_name):
    return cognitoidp_backends[account_id][region_name]


_delete_user_pool = CognitoIdpBackend.delete_user_pool


def delete_user_pool(self, user_pool_id):
    pool = self.describe_user_pool(user_pool_id)
    if pool.extended_config.get("DeletionProtection") == "ACTIVE":
        # Cognito's answer to DeleteUserPool on a protected pool.
        raise InvalidParameterException(
            "The user pool cannot be deleted because deletion protection is activated. "
            "Deletion protection must be inactivated first.")
    _delete_user_pool(self, user_pool_id)


CognitoIdpBackend.delete_user_pool = delete_user_pool


def _pool_config(p):
    # The template's properties are CreateUserPool's, but for these two.
    return {k: copy.deepcopy(v) for k, v in p.items() if k not in ("UserPoolName", "EnabledMfas")}


class UserPoolModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    ATTRS = {"Arn": "arn", "ProviderName": "provider_name", "ProviderURL": "provider_url"}
    REPLACE_ON = ("UsernameAttributes", "AliasAttributes", "Schema", "UsernameConfiguration")

    def __init__(self, pool, props, account_id, region_name):
        self.pool, self.props, self.id, self.arn = pool, props, pool.id, pool.arn
        self.account_id, self.region_name = account_id, region_name
        self.provider_name = f"cognito-idp.{region_name}.amazonaws.com/{pool.id}"
        self.provider_url = f"https://{self.provider_name}"

    @staticmethod
    def cloudformation_type():
        return "AWS::Cognito::UserPool"

    @property
    def physical_resource_id(self):
        return self.id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        pool = _cognito(account_id, region_name).create_user_pool(p.get("UserPoolName", resource_name),
                                                                  _pool_config(p))
        return cls(pool, p, account_id, region_name)

    def modify(self, p):
        self.pool.name = p.get("UserPoolName", self.pool.name)
        _cognito(self.account_id, self.region_name).update_user_pool(self.id, _pool_config(p))

    def delete(self, account_id, region_name):
        # Refused while DeletionProtection is ACTIVE (see delete_user_pool).
        _absent(_cognito(account_id, region_name).delete_user_pool, self.id)


class UserPoolClientModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    REPLACE_ON = ("UserPoolId", "GenerateSecret")

    def __init__(self, client, props, account_id, region_name):
        self.client, self.props, self.id = client, props, client.id
        self.account_id, self.region_name = account_id, region_name

    @staticmethod
    def cloudformation_type():
        return "AWS::Cognito::UserPoolClient"

    @property
    def physical_resource_id(self):
        return self.id

    @staticmethod
    def _config(p):
        return {k: copy.deepcopy(v) for k, v in p.items() if k not in ("UserPoolId", "GenerateSecret")}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        config = cls._config(p)
        config.setdefault("ClientName", resource_name)
        client = _cognito(account_id, region_name).create_user_pool_client(
            p["UserPoolId"], bool(p.get("GenerateSecret", False)), config)
        return cls(client, p, account_id, region_name)

    def modify(self, p):
        config = self.client.extended_config
        name = config.get("ClientName")
        config.clear()  # UpdateUserPoolClient resets what it is not given
        config.update(self._config(p))
        config.setdefault("ClientName", name)

    def delete(self, account_id, region_name):
        _absent(_cognito(account_id, region_name).delete_user_pool_client, self.client.user_pool_id, self.id)


class CertificateModel(_Model, CloudFormationModel):
    """AWS::CertificateManager::Certificate, DNS-validated in a zone as
    CloudFormation does it: Ref is the certificate's ARN."""
    __module__ = _MODULE
    REPLACE_ON = ("DomainName", "SubjectAlternativeNames", "ValidationMethod",
                  "DomainValidationOptions", "CertificateAuthorityArn")

    def __init__(self, arn, props, account_id, region_name):
        self.arn, self.props = arn, props
        self.account_id, self.region_name = account_id, region_name

    @staticmethod
    def cloudformation_type():
        return "AWS::CertificateManager::Certificate"

    @property
    def physical_resource_id(self):
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = acm_backends[account_id][region_name]
        arn = backend.request_certificate(p["DomainName"], None, p.get("SubjectAlternativeNames") or [],
                                          p.get("Tags") or [])
        cert = backend.get_certificate(arn)
        if p.get("ValidationMethod") == "DNS":
            zones = route53_backends[account_id][get_partition(region_name)]
            options = cert.describe()["Certificate"]["DomainValidationOptions"]
            for option in p.get("DomainValidationOptions") or []:
                if "HostedZoneId" not in option:
                    continue
                zone = zones.get_hosted_zone(option["HostedZoneId"])  # NoSuchHostedZone fails it
                record = next(o["ResourceRecord"] for o in options if o["DomainName"] == option["DomainName"])
                # Through the API's own path, so a later DELETE of it is accepted.
                zones.change_resource_record_sets(zone.id, [{"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": record["Name"].rstrip("."), "Type": "CNAME", "TTL": 300,
                    "ResourceRecords": [{"Value": record["Value"]}]}}])
            cert.status = "ISSUED"  # CloudFormation waits for it
        return cls(arn, p, account_id, region_name)

    def modify(self, p):
        pass  # what may change in place (tags, transparency logging) is not modelled

    def delete(self, account_id, region_name):
        _absent(acm_backends[account_id][region_name].delete_certificate, self.arn)
