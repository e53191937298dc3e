//! `[users]` on AWS: a Cognito user pool and an app client, in the data
//! layer (the pool holds the users: replacing it would lose them all). The
//! runtime verifies the pool's tokens (`STACKWRIGHT_USER_POOL_ID`,
//! `STACKWRIGHT_USER_POOL_CLIENT_ID`); the site signs in against it.

use serde_json::json;
use stackwright_stack::Stack;

use crate::cfn::{r, Template};
use crate::outputs::Output;
use crate::Settings;

pub fn add(t: &mut Template, stack: &Stack, s: &Settings, prefix: &str) {
    let Some(users) = &stack.users else {
        return;
    };
    let p = &users.password;
    let pool = t.add(
        "UserPool",
        "AWS::Cognito::UserPool",
        json!({
            "UserPoolName": prefix,
            "UsernameAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            // A changed address takes effect only once verified: routes
            // write `$user.email` only while `email_verified` is true.
            "UserAttributeUpdateSettings": { "AttributesRequireVerificationBeforeUpdate": ["email"] },
            "UsernameConfiguration": { "CaseSensitive": false },
            "Policies": { "PasswordPolicy": {
                "MinimumLength": p.min_length,
                "RequireLowercase": p.lower,
                "RequireUppercase": p.upper,
                "RequireNumbers": p.digit,
                "RequireSymbols": p.symbol,
                "TemporaryPasswordValidityDays": 7
            } },
            "AccountRecoverySetting": { "RecoveryMechanisms": [{ "Name": "verified_email", "Priority": 1 }] },
            "AdminCreateUserConfig": { "AllowAdminCreateUserOnly": false },
            "VerificationMessageTemplate": {
                "DefaultEmailOption": "CONFIRM_WITH_CODE",
                "EmailSubject": format!("Your {} confirmation code", stack.name),
                "EmailMessage": "Your confirmation code is {####}"
            },
            "DeletionProtection": if s.deletion_protection { "ACTIVE" } else { "INACTIVE" }
        }),
    );
    if s.production {
        pool["DeletionPolicy"] = json!("Retain");
        pool["UpdateReplacePolicy"] = json!("Retain");
    }
    t.add(
        "UserPoolClient",
        "AWS::Cognito::UserPoolClient",
        json!({
            "UserPoolId": r("UserPool"),
            "ClientName": format!("{prefix}-site"),
            "GenerateSecret": false,
            "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": true,
            "IdTokenValidity": users.token_minutes,
            "AccessTokenValidity": users.token_minutes,
            "RefreshTokenValidity": users.refresh_days,
            "TokenValidityUnits": { "IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days" }
        }),
    );
    t.output(
        Output::UserPoolId.name(),
        "The Cognito user pool",
        r("UserPool"),
        Some(Output::UserPoolId.export(prefix)),
    );
    t.output(
        Output::UserPoolClientId.name(),
        "The app client the site signs in with",
        r("UserPoolClient"),
        Some(Output::UserPoolClientId.export(prefix)),
    );
}
