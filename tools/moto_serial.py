"""moto's server, one request at a time, with CloudFormation change sets,
the resource types Stackwright's templates use and failed deletions
completed the way CloudFormation documents them.

1. One request at a time: moto_server serves requests on threads, and moto's
   DynamoDB backend does not lock around UpdateItem, so concurrent `ADD`
   updates can be lost in the emulator (DynamoDB itself applies them
   atomically).

2. Change sets: `stackwright deploy` drives CloudFormation only through
   change sets (CreateChangeSet, ExecuteChangeSet). moto (5.2) executes them
   only partly, unlike its CreateStack/UpdateStack:
   - a stack made by a CREATE change set cannot resolve Fn::ImportValue
     (it gets no view of the region's exports);
   - executing a change set leaves the stack's outputs, exports and
     parameters as they were (so a stack created from a change set has no
     outputs, and an unchanged redeploy looks changed);
   - a resource that fails to create makes ExecuteChangeSet answer HTTP 500,
     where CloudFormation marks the resource *_FAILED with its reason and
     rolls the stack back (ROLLBACK_COMPLETE after a first create,
     UPDATE_ROLLBACK_COMPLETE after an update).
   The patches below give change sets exactly the behaviour of moto's own
   CreateStack/UpdateStack for the first two, and CloudFormation's documented
   failure states for the third. They change nothing else.

3. API Gateway v2 in templates: moto's CloudFormation has no model for
   AWS::ApiGatewayV2::Api, ::Integration, ::Route or ::Stage, so a template
   using them (every Lambda environment) fails: `Fn::GetAtt HttpApi.ApiEndpoint`
   "references undefined resource". The models below create, update and
   delete them through moto's own apigatewayv2 backend (so GetApis shows
   them), with the Ref and GetAtt values CloudFormation documents: Ref is the
   API id, integration id, route id and stage name; GetAtt ApiEndpoint and
   ApiId on an Api. Changing ApiId (or a stage's StageName) replaces the
   resource, as CloudFormation does; other changes update it in place.

4. Aurora in templates: moto's CloudFormation has no AWS::RDS::DBCluster
   model, and its AWS::RDS::DBInstance model ignores DBClusterIdentifier (it
   then fails on the cluster engine: KeyError 'aurora-mysql'). The model
   below creates the cluster through moto's rds backend (CreateDBCluster:
   DescribeDBClusters shows it), with Ref the cluster identifier and GetAtt
   Endpoint.Address, Endpoint.Port, ReadEndpoint.Address, DBClusterArn,
   DBClusterResourceId and MasterUserSecret.SecretArn; and an instance with
   DBClusterIdentifier becomes a member of that cluster. The cluster keeps
   its DeletionProtection, so (as in CloudFormation) a protected cluster
   fails the stack's deletion until protection is turned off, and a cluster
   with members cannot be deleted before them (moto's stack deletion retries,
   so instances go first). DeletionPolicy Snapshot is not modelled: the
   cluster is deleted without a final snapshot.

5. A failed deletion: moto's DeleteStack drops the stack before deleting its
   resources, so a resource that fails to delete (a protected cluster, a VPC
   still in use) makes DeleteStack answer with that resource's error, and
   the stack vanishes with what is left of it orphaned. CloudFormation keeps
   the stack as DELETE_FAILED, with an event giving the resource's reason,
   and a later DeleteStack tries again; the patch does that.

6. Parameter-only changes: a change set whose template is unchanged but
   whose parameters differ (a new runtime package, a new image tag) lists
   no changes in moto, where CloudFormation lists every resource that
   refers to a changed parameter as modified; and moto finds references
   only in `Ref`, not in `Fn::Sub` (`${ImageTag}`), so neither its change
   sets nor its updates touch those resources. The patch finds both kinds
   of reference, for change sets and for updates.

7. Deletion of ECS services and clusters, and of Redshift clusters: moto's
   models of AWS::ECS::Service, AWS::ECS::Cluster and AWS::Redshift::Cluster
   have no deletion, so deleting a stack leaves them behind. The patch
   deletes them, as CloudFormation does (a Redshift cluster without a final
   snapshot, as the templates ask outside production).

8. Sites and sign-in in templates: moto's CloudFormation has no model for
   AWS::CloudFront::OriginAccessControl, ::Distribution, ::Function,
   AWS::WAFv2::WebACL,
   AWS::Cognito::UserPool or ::UserPoolClient, so `Fn::GetAtt
   SiteDistribution.DomainName` "references undefined resource" and a Ref
   to the pool gives nothing. The models below create, update and delete
   them through moto's own cloudfront and cognitoidp backends (so
   ListDistributions, ListOriginAccessControls, ListUserPools and
   ListUserPoolClients show them), with the values CloudFormation documents:
   Ref is the control's id, the distribution's id, the pool's id and the
   client's id; GetAtt Id on a control and a distribution, DomainName on a
   distribution, Arn, ProviderName and ProviderURL on a pool.
   - A DistributionConfig in a template writes lists plainly (Origins,
     Aliases, AllowedMethods...) where the API (and moto's backend) wraps
     them as {Quantity, Items}, says IPV6Enabled for IsIPV6Enabled, and has
     no CallerReference (CloudFormation makes one): the model converts that
     much (OriginCustomHeaders are CustomHeaders there, and a Logging
     present is enabled). moto's Origin drops OriginAccessControlId, so an
     origin's access control would not show in GetDistribution; the patch
     keeps it. A function is created through moto's CreateFunction
     (ListFunctions shows it), published when AutoPublish says so.
   - CloudFront deletes only a disabled, deployed distribution, and
     CloudFormation disables it first; the model deletes it directly.
   - A pool's properties are the CreateUserPool parameters (UserPoolName is
     PoolName; EnabledMfas is not a parameter). moto's DeleteUserPool
     ignores DeletionProtection; the patch refuses to delete a pool whose
     protection is ACTIVE (InvalidParameterException, as Cognito does), so a
     protected pool fails its stack's deletion until protection is turned
     off (DeletionPolicy Retain is honoured by moto: a retained pool is not
     deleted at all).
   Changing UsernameAttributes, AliasAttributes, Schema or
   UsernameConfiguration replaces a pool, and UserPoolId or GenerateSecret a
   client, as in CloudFormation; other changes update in place.
   These models, and ACM's certificate, are in tools/moto_edge.py.

9. Subscriptions in templates: moto's CloudFormation has no model for
   AWS::SNS::Subscription, so a stack's topic never reaches its queues.
   The model in tools/moto_topics.py subscribes through moto's sns backend.

Usage: python moto_serial.py HOST PORT
"""

import os
import re
import sys

# As EC2 does: an instance type that does not exist fails the launch (and
# so the autoscaling group that asked for it). moto reads it on import.
os.environ.setdefault("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true")

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.cloudformation import models as cfn
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.ecs.models import Cluster as EcsCluster
from moto.ecs.models import Service as EcsService
from moto.ecs.models import ecs_backends
from moto.rds.models import DBInstance, rds_backends
from moto.redshift.models import Cluster as RedshiftCluster
from moto.redshift.models import redshift_backends
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

from moto_model import MODULE as _MODULE, Model as _Model, absent as _absent

Backend = cfn.CloudFormationBackend

# The logical id of the resource moto is creating or updating, so a failure
# can be reported against it, as CloudFormation does.
_current = {"logical_id": None, "type": None}


def _tracking(original):
    def wrapper(logical_id, resource_json, *args, **kwargs):
        _current["logical_id"] = logical_id
        _current["type"] = resource_json.get("Type")
        return original(logical_id, resource_json, *args, **kwargs)

    return wrapper


parsing.parse_and_create_resource = _tracking(parsing.parse_and_create_resource)
parsing.parse_and_update_resource = _tracking(parsing.parse_and_update_resource)

_create_change_set = Backend.create_change_set
_execute_change_set = Backend.execute_change_set


def create_change_set(self, stack_name, *args, **kwargs):
    change_set_id, stack_id = _create_change_set(self, stack_name, *args, **kwargs)
    stack = self.stacks[stack_id]
    # As CreateStack does: imports resolve against the region's exports.
    stack.cross_stack_resources = self.exports
    stack.resource_map.cross_stack_resources = self.exports
    return change_set_id, stack_id


def _fail(stack, change_set, error):
    logical_id = _current["logical_id"] or stack.name
    kind = "CREATE" if change_set.change_set_type == "CREATE" else "UPDATE"
    event = cfn.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id="",
        resource_type=_current["type"] or "AWS::CloudFormation::Stack",
        resource_status=f"{kind}_FAILED",
        resource_status_reason=str(error) or type(error).__name__,
        resource_properties=None,
    )
    stack.events.append(event)
    if kind == "CREATE":
        # Rolling back a first create deletes what it had created.
        try:
            stack.resource_map.delete()
        except Exception:  # noqa: BLE001 - best effort, as in moto's own delete
            pass
        stack._add_stack_event("ROLLBACK_COMPLETE")
        stack.status = "ROLLBACK_COMPLETE"
    else:
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    change_set.execution_status = "EXECUTE_FAILED"


def execute_change_set(self, change_set_name, stack_name=None):
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    _current["logical_id"] = None
    try:
        _execute_change_set(self, change_set_name, stack_name)
    except Exception as error:  # noqa: BLE001 - any failure is the resource's
        _fail(stack, change_set, error)
        return
    # As UpdateStack does: outputs, exports and parameters follow the template.
    for export in stack.exports:
        self.exports.pop(export.name, None)
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    stack.parameters = change_set.parameters
    stack.description = stack.template_dict.get("Description")
    self._validate_export_uniqueness(stack)
    for export in stack.exports:
        self.exports[export.name] = export


Backend.create_change_set = create_change_set
Backend.execute_change_set = execute_change_set


# 3. API Gateway v2 models, backed by moto's apigatewayv2 backend.


def _apis(account_id, region_name):
    return apigatewayv2_backends[account_id][region_name]


class HttpApiModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    ATTRS = {"ApiEndpoint": "api_endpoint", "ApiId": "api_id"}

    def __init__(self, api, props):
        self.api, self.props = api, props
        self.api_id, self.api_endpoint = api.api_id, api.api_endpoint

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGatewayV2::Api"

    @property
    def physical_resource_id(self):
        return self.api_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        api = _apis(account_id, region_name).create_api(
            api_key_selection_expression=p.get("ApiKeySelectionExpression"),
            cors_configuration=p.get("CorsConfiguration"),
            description=p.get("Description"),
            disable_schema_validation=p.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=p.get("DisableExecuteApiEndpoint"),
            name=p.get("Name", resource_name),
            protocol_type=p.get("ProtocolType"),
            route_selection_expression=p.get("RouteSelectionExpression"),
            tags=p.get("Tags") or {},
            version=p.get("Version"),
        )
        return cls(api, p)

    def modify(self, p):
        self.api.name = p.get("Name", self.api.name)
        self.api.description = p.get("Description")
        self.api.cors_configuration = p.get("CorsConfiguration")
        self.api.disable_execute_api_endpoint = p.get("DisableExecuteApiEndpoint") or False

    def delete(self, account_id, region_name):
        _apis(account_id, region_name).delete_api(self.api_id)


class HttpApiIntegrationModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    REPLACE_ON = ("ApiId",)

    def __init__(self, api_id, integration, props):
        self.api_id, self.integration, self.props = api_id, integration, props

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGatewayV2::Integration"

    @property
    def physical_resource_id(self):
        return self.integration.id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        integration = _apis(account_id, region_name).create_integration(
            api_id=p["ApiId"],
            connection_id=p.get("ConnectionId"),
            connection_type=p.get("ConnectionType"),
            content_handling_strategy=p.get("ContentHandlingStrategy"),
            credentials_arn=p.get("CredentialsArn"),
            description=p.get("Description"),
            integration_method=p.get("IntegrationMethod"),
            integration_subtype=p.get("IntegrationSubtype"),
            integration_type=p.get("IntegrationType"),
            integration_uri=p.get("IntegrationUri"),
            passthrough_behavior=p.get("PassthroughBehavior"),
            payload_format_version=p.get("PayloadFormatVersion"),
            request_parameters=p.get("RequestParameters"),
            request_templates=p.get("RequestTemplates"),
            response_parameters=p.get("ResponseParameters"),
            template_selection_expression=p.get("TemplateSelectionExpression"),
            timeout_in_millis=p.get("TimeoutInMillis"),
            tls_config=p.get("TlsConfig"),
        )
        return cls(p["ApiId"], integration, p)

    def modify(self, p):
        i = self.integration
        i.integration_type = p.get("IntegrationType")
        i.integration_uri = p.get("IntegrationUri")
        i.integration_method = p.get("IntegrationMethod")
        i.payload_format_version = p.get("PayloadFormatVersion")
        i.description = p.get("Description")
        i.timeout_in_millis = int(p["TimeoutInMillis"]) if p.get("TimeoutInMillis") else None

    def delete(self, account_id, region_name):
        _absent(_apis(account_id, region_name).delete_integration, self.api_id, self.integration.id)


class HttpApiRouteModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    REPLACE_ON = ("ApiId",)

    def __init__(self, api_id, route, props):
        self.api_id, self.route, self.props = api_id, route, props

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGatewayV2::Route"

    @property
    def physical_resource_id(self):
        return self.route.route_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        route = _apis(account_id, region_name).create_route(
            api_id=p["ApiId"],
            api_key_required=p.get("ApiKeyRequired", False),
            authorization_scopes=p.get("AuthorizationScopes"),
            authorization_type=p.get("AuthorizationType"),
            authorizer_id=p.get("AuthorizerId"),
            model_selection_expression=p.get("ModelSelectionExpression"),
            operation_name=p.get("OperationName"),
            request_models=p.get("RequestModels"),
            request_parameters=p.get("RequestParameters"),
            route_key=p["RouteKey"],
            route_response_selection_expression=p.get("RouteResponseSelectionExpression"),
            target=p.get("Target"),
        )
        return cls(p["ApiId"], route, p)

    def modify(self, p):
        self.route.route_key = p["RouteKey"]
        self.route.target = p.get("Target")
        self.route.authorization_type = p.get("AuthorizationType")
        self.route.authorizer_id = p.get("AuthorizerId")

    def delete(self, account_id, region_name):
        _absent(_apis(account_id, region_name).delete_route, self.api_id, self.route.route_id)


def _stage_config(p):
    """A Stage's properties as moto's CreateStage takes them (camelCase)."""
    config = {"stageName": p["StageName"]}
    for key, name in [("AutoDeploy", "autoDeploy"), ("Description", "description"),
                      ("StageVariables", "stageVariables"), ("ClientCertificateId", "clientCertificateId"),
                      ("Tags", "tags")]:
        if key in p:
            config[name] = p[key]
    if "AccessLogSettings" in p:
        config["accessLogSettings"] = {"destinationArn": p["AccessLogSettings"].get("DestinationArn"),
                                       "format": p["AccessLogSettings"].get("Format")}
    if "DefaultRouteSettings" in p:
        config["defaultRouteSettings"] = {k[0].lower() + k[1:]: v for k, v in p["DefaultRouteSettings"].items()}
    return config


class HttpApiStageModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    REPLACE_ON = ("ApiId", "StageName")

    def __init__(self, api_id, stage, props):
        self.api_id, self.stage, self.props = api_id, stage, props

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGatewayV2::Stage"

    @property
    def physical_resource_id(self):
        return self.stage.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        stage = _apis(account_id, region_name).create_stage(p["ApiId"], _stage_config(p))
        return cls(p["ApiId"], stage, p)

    def modify(self, p):
        c = _stage_config(p)
        self.stage.auto_deploy = c.get("autoDeploy")
        self.stage.description = c.get("description")
        self.stage.access_log_settings = c.get("accessLogSettings")
        self.stage.stage_variables = c.get("stageVariables", {})

    def delete(self, account_id, region_name):
        _absent(_apis(account_id, region_name).delete_stage, self.api_id, self.stage.name)


# 4. Aurora: AWS::RDS::DBCluster, and cluster members as DBInstance.


def _name(value):
    """A Ref to a moto model that has no physical id resolves to the model
    itself (moto's DBSubnetGroup); the API wants its name."""
    return getattr(value, "name", value)


class DBClusterModel(_Model, CloudFormationModel):
    __module__ = _MODULE
    ATTRS = {
        "Endpoint.Address": "endpoint",
        "Endpoint.Port": "port",
        "ReadEndpoint.Address": "reader_endpoint",
        "DBClusterArn": "arn",
        "DBClusterResourceId": "resource_id",
        "MasterUserSecret.SecretArn": "secret_arn",
    }
    REPLACE_ON = ("DBClusterIdentifier", "Engine", "DatabaseName", "StorageEncrypted", "KmsKeyId",
                  "DBSubnetGroupName", "MasterUsername")

    def __init__(self, cluster, props):
        self.cluster, self.props = cluster, props

    @staticmethod
    def cloudformation_name_type():
        return "DBClusterIdentifier"

    @staticmethod
    def cloudformation_type():
        return "AWS::RDS::DBCluster"

    @property
    def physical_resource_id(self):
        return self.cluster.db_cluster_identifier

    @property
    def endpoint(self):
        return self.cluster.endpoint

    @property
    def reader_endpoint(self):
        return self.cluster.reader_endpoint

    @property
    def port(self):
        return str(self.cluster.port)

    @property
    def arn(self):
        return self.cluster.db_cluster_arn

    @property
    def resource_id(self):
        return self.cluster.db_cluster_resource_id

    @property
    def secret_arn(self):
        secret = getattr(self.cluster, "master_user_secret", None)
        if secret is None:
            raise UnformattedGetAttTemplateException()
        return secret.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        # CloudFormation names a cluster in lower case (the RDS API does too).
        kw = {
            "db_cluster_identifier": resource_name.lower(),
            "engine": p["Engine"],
            "engine_version": p.get("EngineVersion"),
            "engine_mode": p.get("EngineMode"),
            "master_username": p.get("MasterUsername"),
            "master_user_password": p.get("MasterUserPassword"),
            "manage_master_user_password": p.get("ManageMasterUserPassword", False),
            "master_user_secret_kms_key_id": (p.get("MasterUserSecret") or {}).get("KmsKeyId"),
            "database_name": p.get("DatabaseName"),
            "db_subnet_group_name": _name(p.get("DBSubnetGroupName")),
            "db_cluster_parameter_group_name": _name(p.get("DBClusterParameterGroupName")),
            "vpc_security_group_ids": p.get("VpcSecurityGroupIds"),
            "storage_encrypted": p.get("StorageEncrypted", False),
            "kms_key_id": p.get("KmsKeyId"),
            "deletion_protection": p.get("DeletionProtection", False),
            "backup_retention_period": int(p.get("BackupRetentionPeriod", 1)),
            "copy_tags_to_snapshot": p.get("CopyTagsToSnapshot", False),
            "enable_iam_database_authentication": p.get("EnableIAMDatabaseAuthentication", False),
            "enable_cloudwatch_logs_exports": p.get("EnableCloudwatchLogsExports"),
            "port": int(p["Port"]) if p.get("Port") else None,
            "availability_zones": p.get("AvailabilityZones"),
            "serverless_v2_scaling_configuration": p.get("ServerlessV2ScalingConfiguration"),
            "tags": p.get("Tags"),
        }
        cluster = rds_backends[account_id][region_name].create_db_cluster(
            {k: v for k, v in kw.items() if v is not None})
        return cls(cluster, p)

    def modify(self, p):
        c = self.cluster
        c.deletion_protection = p.get("DeletionProtection", False)
        c.backup_retention_period = int(p.get("BackupRetentionPeriod", 1))
        c.copy_tags_to_snapshot = p.get("CopyTagsToSnapshot", False)
        c.iam_auth = p.get("EnableIAMDatabaseAuthentication", False)
        c.enabled_cloudwatch_logs_exports = p.get("EnableCloudwatchLogsExports") or []
        if p.get("VpcSecurityGroupIds") is not None:
            c.vpc_security_group_ids = p["VpcSecurityGroupIds"]

    def delete(self, account_id, region_name):
        # Fails while the cluster has members or is protected, as in RDS.
        _absent(rds_backends[account_id][region_name].delete_db_cluster, self.cluster.db_cluster_identifier)


_create_db_instance = DBInstance.create_from_cloudformation_json.__func__


def create_db_instance(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    p = cloudformation_json["Properties"]
    if not p.get("DBClusterIdentifier"):
        return _create_db_instance(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    # A cluster member: storage, credentials, backups and network are the
    # cluster's, so only what an instance of a cluster takes is passed.
    kw = {
        "db_instance_identifier": resource_name.replace("_", "-").lower(),
        "db_cluster_identifier": p["DBClusterIdentifier"].lower(),
        "db_instance_class": p["DBInstanceClass"],
        "engine": p["Engine"],
        "availability_zone": p.get("AvailabilityZone"),
        "publicly_accessible": p.get("PubliclyAccessible"),
        "auto_minor_version_upgrade": p.get("AutoMinorVersionUpgrade", True),
        "db_parameter_group_name": _name(p.get("DBParameterGroupName")),
        "monitoring_interval": int(p.get("MonitoringInterval", 0)),
        "monitoring_role_arn": p.get("MonitoringRoleArn"),
        "promotion_tier": int(p.get("PromotionTier", 1)),
        "deletion_protection": p.get("DeletionProtection", False),
        "tags": p.get("Tags"),
    }
    return rds_backends[account_id][region_name].create_db_instance({k: v for k, v in kw.items() if v is not None})


DBInstance.create_from_cloudformation_json = classmethod(create_db_instance)

# 5. A failed deletion: moto's DeleteStack takes the stack out of its list
# before deleting its resources, so a resource that fails to delete (a
# protected cluster, a VPC still in use) loses the stack and orphans what is
# left, and the caller gets the resource's error. CloudFormation answers
# DeleteStack, keeps the stack as DELETE_FAILED with the resource's reason,
# and a later DeleteStack tries again.

_delete_resource = parsing.ResourceMap._delete_resource


def delete_resource(self, parsed_resource, resource_json):
    try:
        _delete_resource(self, parsed_resource, resource_json)
    except Exception:
        # The last failure is the one moto's deletion gives up on.
        _current["logical_id"] = getattr(parsed_resource, "logical_resource_id", None)
        _current["type"] = resource_json.get("Type")
        raise


parsing.ResourceMap._delete_resource = delete_resource

_delete_stack = Backend.delete_stack


def delete_stack(self, name_or_stack_id):
    stacks = [s for s in self.stacks.values() if name_or_stack_id in (s.stack_id, s.name)]
    _current["logical_id"] = None
    try:
        _delete_stack(self, name_or_stack_id)
    except Exception as error:  # noqa: BLE001 - any failure is the resource's
        for stack in stacks:
            self.stacks[stack.stack_id] = stack
            stack.events.append(cfn.Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=_current["logical_id"] or stack.name,
                physical_resource_id="",
                resource_type=_current["type"] or "AWS::CloudFormation::Stack",
                resource_status="DELETE_FAILED",
                resource_status_reason=str(error) or type(error).__name__,
                resource_properties=None,
            ))
            stack._add_stack_event("DELETE_FAILED")
            stack.status = "DELETE_FAILED"


Backend.delete_stack = delete_stack

# moto maps types to models once (cached) from CloudFormationModel's
# subclasses: forget that map so the models above are found.
for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
    cached.cache_clear()



# 6. Parameter-only changes are changes; references include Fn::Sub.
def references(value):
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.append(inner)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                if isinstance(text, str):
                    found.extend(re.findall(r"\$\{([A-Za-z0-9:]+)\}", text))
                if isinstance(inner, list):
                    found.extend(references(inner[1:]))
            else:
                found.extend(references(inner))
    elif isinstance(value, list):
        for item in value:
            found.extend(references(item))
    return found


parsing.get_references_from_template = references


def change_set_diff(self):
    resource_map = self.stack.resource_map
    names = resource_map.build_resource_diff(self.template_dict, self.parameters)
    changes = []
    for action in ("Add", "Modify", "Remove"):
        for name in dict.fromkeys(names[action]):
            source = resource_map._resource_json_map if action == "Remove" else self.template_dict["Resources"]
            changes.append(cfn.Change(action=action, logical_resource_id=name, resource_type=source[name]["Type"]))
    return changes


cfn.ChangeSet.diff = change_set_diff


# 7. ECS services and clusters are deleted with their stack.
def delete_ecs_service(self, account_id, region_name):
    services = ecs_backends[account_id][region_name].services
    for key in [k for k, v in services.items() if v is self]:
        del services[key]


def delete_ecs_cluster(self, account_id, region_name):
    backend = ecs_backends[account_id][region_name]
    if any(v.cluster_arn == self.arn for v in backend.services.values()):
        raise RuntimeError(f"cluster {self.name} still has services")
    backend.clusters.pop(self.name, None)


def delete_redshift_cluster(self, account_id, region_name):
    redshift_backends[account_id][region_name].clusters.pop(self.cluster_identifier, None)


EcsService.delete = delete_ecs_service
EcsCluster.delete = delete_ecs_cluster
RedshiftCluster.delete = delete_redshift_cluster


# 8. CloudFront and Cognito models, backed by moto's own backends.


# Section 8's models (and ACM's): registered on import.
import moto_edge  # noqa: E402,F401

# 9. A topic's subscriptions in templates (tools/moto_topics.py).
import moto_topics  # noqa: E402,F401


# As for sections 3 and 4: moto must map the types above to these models.
for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
    cached.cache_clear()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False)


if __name__ == "__main__":
    main()
