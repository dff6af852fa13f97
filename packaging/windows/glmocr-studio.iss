; Inno Setup 6 script for GLM-OCR Studio (Windows x64).
;
; packaging/build.py runs it as
;   iscc /DAppVersion=X.Y.Z /DSourceDir=...\dist\glmocr-studio /DIconFile=...\glmocr-studio.ico /DOutputDir=... glmocr-studio.iss
; The defaults below let it build by hand from packaging\windows after `python packaging\build.py --skip-installer`.
; AppVersion must match pyproject.toml (tests/packaging/test_packaging.py checks it).
;
; Installs per user (no administrator rights) into %LOCALAPPDATA%\Programs by default; the first page offers an
; install for all users instead. The model (about 2.2 GB) is not part of the installer: the app downloads it on
; first start, into the user's data folder, which the uninstaller leaves alone.
;
; One command, glmocr-studio: the windowed glmocr-studio.exe (Start menu, desktop icon, "Open with") and its console
; twin glmocr-studio.com, the same program built for the console. cmd and PowerShell try .COM before .EXE (PATHEXT),
; so `glmocr-studio ocr scan.png` typed in any new terminal runs the twin and prints there: the "addtopath" task (on
; by default) puts the app folder on the user's PATH (the machine's for an all-users install); the uninstaller takes
; it off again.
;
; Signing (packaging/signing.py): with /DSign and a sign tool named "glmocr" (iscc /Sglmocr=...), Inno Setup signs
; the setup and its uninstaller; the two executables are signed before this script packs them.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef AppNumericVersion
  #define AppNumericVersion "0.1.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\dist\glmocr-studio"
#endif
#ifndef IconFile
  #define IconFile "..\build\icon\glmocr-studio.ico"
#endif
#ifndef OutputDir
  #define OutputDir "..\dist"
#endif
#define AppName "GLM-OCR Studio"
#define ExeName "glmocr-studio.exe"
#define ConsoleName "glmocr-studio.com"
#define ProgId "GLMOCRStudio.Document"

[Setup]
; AppId identifies the product for upgrades and the uninstaller: never change it.
AppId={{4D574F29-811E-4D6D-BA86-B029809C1BBC}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=GLM-OCR Studio contributors
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=GLM-OCR_Studio-{#AppVersion}-windows-x64-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#ExeName}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=yes
ChangesEnvironment=yes
CloseApplications=yes
VersionInfoVersion={#AppNumericVersion}
VersionInfoProductVersion={#AppNumericVersion}
VersionInfoProductTextVersion={#AppVersion}
VersionInfoCompany=GLM-OCR Studio contributors
VersionInfoDescription={#AppName} setup
VersionInfoProductName={#AppName}
#ifdef Sign
SignTool=glmocr
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "associate"; Description: "Offer {#AppName} in ""Open with"" for images and PDFs"; GroupDescription: "File types:"; Flags: unchecked
Name: "addtopath"; Description: "Add glmocr-studio to PATH, for terminals"; GroupDescription: "Command line:"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Excludes: "\{#ConsoleName}"; Flags: ignoreversion recursesubdirs createallsubdirs
; Named on its own line so that ISCC fails when the build did not make it (packaging/windows_installer.py).
Source: "{#SourceDir}\{#ConsoleName}"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#ExeName}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#ExeName}"; Tasks: desktopicon

[Registry]
; "Open with" registration under HKA (HKCU for a per-user install, HKLM for all users). The app is only added to
; each type's OpenWithProgids, so the user's default viewer stays the default.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "Image or PDF for {#AppName}"; Flags: uninsdeletekey; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#ExeName},0"; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#ExeName}"" ""%1"""; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.png\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.jpeg\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.tif\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.tiff\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.webp\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.bmp\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.gif\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.pdf\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate

[Run]
Filename: "{app}\{#ExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
{ The "addtopath" task: the app folder on PATH (the user's for a per-user install, the machine's for all users),
  added once, and removed by the uninstaller. ChangesEnvironment=yes tells running programs about the change. }
const
  UserEnvironmentKey = 'Environment';
  MachineEnvironmentKey = 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';

function EnvironmentRoot: Integer;
begin
  if IsAdminInstallMode then Result := HKEY_LOCAL_MACHINE else Result := HKEY_CURRENT_USER;
end;

function EnvironmentKey: String;
begin
  if IsAdminInstallMode then Result := MachineEnvironmentKey else Result := UserEnvironmentKey;
end;

function FolderPosition(Path, Folder: String): Integer;
begin
  Result := Pos(';' + Uppercase(Folder) + ';', ';' + Uppercase(Path) + ';');
end;

procedure AddFolderToPath(Folder: String);
var
  Path: String;
begin
  if not RegQueryStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Path) then Path := '';
  if FolderPosition(Path, Folder) > 0 then exit;
  if (Path <> '') and (Copy(Path, Length(Path), 1) <> ';') then Path := Path + ';';
  RegWriteExpandStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Path + Folder);
end;

procedure RemoveFolderFromPath(Folder: String);
var
  Path: String;
  Position: Integer;
begin
  if not RegQueryStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Path) then exit;
  Position := FolderPosition(Path, Folder);
  if Position = 0 then exit;
  Path := ';' + Path + ';';
  Delete(Path, Position, Length(Folder) + 1);
  RegWriteExpandStringValue(EnvironmentRoot, EnvironmentKey, 'Path', Copy(Path, 2, Length(Path) - 2));
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and WizardIsTaskSelected('addtopath') then
    AddFolderToPath(ExpandConstant('{app}'));
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemoveFolderFromPath(ExpandConstant('{app}'));
end;
